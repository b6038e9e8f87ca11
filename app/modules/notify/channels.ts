/**
 * Channels: where notifications go. Settings are split: secret fields (URLs that carry tokens,
 * routing keys, SMTP passwords, custom header values, the signing secret) are sealed into
 * `channels.secrets`; the rest is plain JSON in `channels.config`. Replies mask every secret.
 */
import { asc, eq } from 'drizzle-orm'
import * as v from 'valibot'
import type { Db } from '../../../db/client.ts'
import { channels, type Channel, type ChannelType } from '../../../db/schema/notify.ts'
import { mask, type Sealer } from '../../lib/crypto.ts'
import { isUniqueViolation } from '../../lib/db-errors.ts'
import { AppError, badRequest, conflict, notFound } from '../../lib/errors.ts'
import { newId, randomToken } from '../../lib/ids.ts'
import { toIso } from '../../lib/time.ts'
import { issuesToDetails } from '../../lib/validate.ts'
import { secretFields, settingsSchemas, type ChannelInput, type ChannelPatchInput } from './schema.ts'

export type Settings = Record<string, unknown>
/** Types whose deliveries carry X-Homeostat-Signature, with a signing secret made at create. */
const signed = new Set<ChannelType>(['webhook', 'n8n'])

function checkSettings(type: ChannelType, settings: unknown): Settings {
  const r = v.safeParse(settingsSchemas[type], settings)
  if (!r.success) throw badRequest(`Invalid ${type} channel settings`, issuesToDetails(r.issues, 'settings.'))
  return r.output as Settings
}

function split(type: ChannelType, settings: Settings, signingSecret: string | undefined) {
  const config: Settings = {}
  const secrets: Settings = signingSecret ? { signingSecret } : {}
  for (const [k, val] of Object.entries(settings)) {
    if (val === undefined) continue
    if (secretFields[type].includes(k)) secrets[k] = val
    else config[k] = val
  }
  return { config, secrets }
}

/** Where a channel's sealed secrets live (AAD): they open in this row only, never copied into another. */
export const channelSecretsAad = (id: string) => `channels:${id}:secrets`

function openSecrets(sealer: Sealer, ch: Channel): Settings {
  if (!ch.secrets) return {}
  try {
    return JSON.parse(sealer.open(ch.secrets, channelSecretsAad(ch.id))) as Settings
  } catch {
    // Sealed for another row (copied here), or with another SECRET_KEY: never sent anywhere.
    throw new AppError(
      409,
      'secrets_unreadable',
      `The secrets of channel ${ch.name} cannot be opened (sealed for another row, or with another SECRET_KEY): ` +
        'delete the channel and create it again',
    )
  }
}

/** The full settings of a channel, secrets opened: for sending only, never for replies or logs. */
export function openChannel(sealer: Sealer, ch: Channel): { settings: Settings; signingSecret?: string } {
  const secrets = openSecrets(sealer, ch)
  const { signingSecret, ...rest } = secrets
  return { settings: { ...ch.config, ...rest }, signingSecret: signingSecret as string | undefined }
}

const uniqueName = (error: unknown) => isUniqueViolation(error, 'channels.name')

export async function createChannel(deps: { db: Db; sealer: Sealer }, input: ChannelInput, now: number) {
  const settings = checkSettings(input.type, input.settings)
  const signingSecret = signed.has(input.type) ? `whsec_${randomToken(32)}` : undefined
  const { config, secrets } = split(input.type, settings, signingSecret)
  const id = newId(now)
  try {
    const [row] = await deps.db
      .insert(channels)
      .values({
        id,
        name: input.name,
        type: input.type,
        config,
        secrets: deps.sealer.seal(JSON.stringify(secrets), channelSecretsAad(id)),
        enabled: input.enabled ?? true,
        createdAt: now,
        updatedAt: now,
      })
      .returning()
    return { row: row!, signingSecret }
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A channel named ${input.name} already exists`)
    throw error
  }
}

export async function getChannel(db: Db, id: string) {
  const [row] = await db.select().from(channels).where(eq(channels.id, id))
  if (!row) throw notFound('Channel')
  return row
}

export const listChannels = (db: Db) => db.select().from(channels).orderBy(asc(channels.name))

/**
 * Where each type sends to. A stored secret must not follow a channel to a new destination: an
 * operator could point it at their own server, press Test and read the password or token there.
 */
const destinationFields: Record<ChannelType, string[]> = {
  webhook: ['url'],
  slack: ['webhookUrl'],
  pagerduty: ['baseUrl'],
  n8n: ['url'],
  email: ['host'], // a new port on the same host is the same server
}

const present = (val: unknown) =>
  val !== undefined && val !== null && val !== '' && !(typeof val === 'object' && Object.keys(val).length === 0)

/**
 * Refuses (400, naming the field) a destination change that leaves out a stored secret: the
 * secret is given again (or explicitly emptied) in the same request, or the change is refused.
 */
function requireSecretsOnMove(type: ChannelType, current: Settings, patch: Settings) {
  const moved = destinationFields[type].some(
    (k) => k in patch && JSON.stringify(patch[k] ?? null) !== JSON.stringify(current[k] ?? null),
  )
  if (!moved) return
  const missing = secretFields[type].filter(
    (k) => !destinationFields[type].includes(k) && present(current[k]) && patch[k] === undefined,
  )
  if (missing.length)
    throw badRequest(
      `Changing where the channel sends needs its secrets again: ${missing.join(', ')}`,
      missing.map((k) => ({ field: `settings.${k}`, message: 'must be given again when the destination changes' })),
    )
}

export async function updateChannel(
  deps: { db: Db; sealer: Sealer },
  before: Channel,
  patch: ChannelPatchInput,
  now: number,
) {
  const set: Partial<Channel> = { updatedAt: now }
  if (patch.name !== undefined) set.name = patch.name
  if (patch.enabled !== undefined) set.enabled = patch.enabled
  if (patch.settings) {
    const current = openChannel(deps.sealer, before)
    requireSecretsOnMove(before.type, current.settings, patch.settings)
    const settings = checkSettings(before.type, { ...current.settings, ...patch.settings })
    const { config, secrets } = split(before.type, settings, current.signingSecret)
    set.config = config
    set.secrets = deps.sealer.seal(JSON.stringify(secrets), channelSecretsAad(before.id))
  }
  try {
    const [row] = await deps.db.update(channels).set(set).where(eq(channels.id, before.id)).returning()
    if (!row) throw notFound('Channel')
    return row
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A channel named ${patch.name} already exists`)
    throw error
  }
}

export async function deleteChannel(db: Db, id: string) {
  await db.delete(channels).where(eq(channels.id, id))
}

const maskValue = (val: unknown) => (typeof val === 'string' ? mask(val) : val)

/** A channel as the API shows it: secrets masked, the signing secret never (only once, at create). */
export function channelJson(sealer: Sealer, ch: Channel) {
  // A channel whose secrets do not open still lists (without them), so it can be found and fixed.
  let opened: ReturnType<typeof openChannel> | undefined
  try {
    opened = openChannel(sealer, ch)
  } catch {
    opened = undefined
  }
  const { settings, signingSecret } = opened ?? { settings: { ...ch.config }, signingSecret: undefined }
  const shown: Settings = {}
  for (const [k, val] of Object.entries(settings)) {
    if (!secretFields[ch.type].includes(k)) shown[k] = val
    else if (k === 'headers' && val && typeof val === 'object')
      shown[k] = Object.fromEntries(Object.entries(val).map(([h, x]) => [h, maskValue(x)]))
    else shown[k] = maskValue(val)
  }
  return {
    id: ch.id,
    name: ch.name,
    type: ch.type,
    enabled: ch.enabled,
    settings: shown,
    signed: !!signingSecret,
    ...(opened ? {} : { secretsUnreadable: true }),
    createdAt: toIso(ch.createdAt),
    updatedAt: toIso(ch.updatedAt),
  }
}
