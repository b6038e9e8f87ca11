/**
 * Backup targets: what is backed up, where to, when and how many are kept. The default `homeostat`
 * target (the database itself, to the local folder, daily at 03:00) is made by its migration.
 */
import { asc, eq } from 'drizzle-orm'
import * as v from 'valibot'
import type { Db } from '../../../../db/client.ts'
import { type BackupTarget, backupTargets } from '../../../../db/schema/backups.ts'
import { mask, type Sealer } from '../../../lib/crypto.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { AppError, conflict, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'
import { type BackupCommands, checkCommandTarget } from '../sources/command.ts'
import { CommandConfig, HomeostatConfig, QdrantPatchConfig, type TargetInput, type TargetPatchInput } from './input.ts'

export const DEFAULT_TARGET = 'homeostat'
export const DEFAULT_SCHEDULE = '0 3 * * *'
const SECRET_FIELDS = ['apiKey', 'secretAccessKey'] as const

const aad = (id: string, field: string) => `backup_target:${id}:${field}`

function sealSecrets(sealer: Sealer, id: string, config: Record<string, unknown>, before?: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...config }
  for (const field of SECRET_FIELDS) {
    const value = config[field]
    if (typeof value === 'string') out[field] = sealer.seal(value, aad(id, field))
    // `null` removes the secret.
    else if (value === null) delete out[field]
    // A change that leaves a secret out keeps the sealed one it had (requireSecretsOnMove ran first).
    else if (before && typeof before[field] === 'string') out[field] = before[field]
  }
  return out
}

const invalidField = (field: string, message: string) =>
  new AppError(400, 'invalid_input', 'Invalid body', [{ field, message }])

/**
 * Secrets follow their destination (as channels' do): a change of where a secret is sent (the
 * Qdrant URL; the S3 endpoint, bucket or addressing style, which make the host) must give the
 * secret again, or `null` to drop it. Otherwise an admin could point a stored S3 secret key or
 * Qdrant API key at a server of their own and receive it with the next backup.
 */
function requireSecretsOnMove(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  where: readonly string[],
  secret: (typeof SECRET_FIELDS)[number],
  prefix: string,
) {
  if (typeof before[secret] !== 'string' || after[secret] !== undefined) return
  const moved = where.find((k) => JSON.stringify(after[k] ?? null) !== JSON.stringify(before[k] ?? null))
  if (moved)
    throw invalidField(`${prefix}.${secret}`, `must be given again (or null to remove it) when ${moved} changes`)
}

/** An S3 destination needs its secret key: given now, or kept from before. */
function requireS3Secret(dest: { destinationKind: string; destinationConfig: Record<string, unknown> }) {
  if (dest.destinationKind === 's3' && typeof dest.destinationConfig.secretAccessKey !== 'string')
    throw invalidField('destination.secretAccessKey', 'is required for an s3 destination')
}

/** Refuses (400 naming the field) a command target whose command is not in BACKUP_COMMANDS_FILE. */
function requireListedCommand(commands: BackupCommands, kind: string, config: Record<string, unknown> | undefined) {
  if (kind !== 'command' || !config) return
  const problem = checkCommandTarget(commands, config as { command: string })
  if (problem) throw invalidField(problem.field, problem.message)
}

/** A target's config with its secrets opened, for the sources and destinations (never for answers). */
export function openSecrets(sealer: Sealer, id: string, config: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...config }
  for (const field of SECRET_FIELDS)
    if (typeof config[field] === 'string') out[field] = sealer.open(config[field] as string, aad(id, field))
  return out
}

const masked = (sealer: Sealer, id: string, config: Record<string, unknown>) => {
  const open = openSecrets(sealer, id, config)
  const out: Record<string, unknown> = { ...config }
  for (const field of SECRET_FIELDS) if (typeof open[field] === 'string') out[field] = mask(open[field] as string)
  return out
}

export const targetJson = (sealer: Sealer, t: BackupTarget) => ({
  id: t.id,
  name: t.name,
  kind: t.kind,
  config: masked(sealer, t.id, t.config),
  destination: { kind: t.destinationKind, ...masked(sealer, t.id, t.destinationConfig) },
  schedule: t.schedule,
  retention: { keepLast: t.keepLast, daily: t.keepDaily, weekly: t.keepWeekly, monthly: t.keepMonthly },
  enabled: t.enabled,
  createdAt: toIso(t.createdAt),
  updatedAt: toIso(t.updatedAt),
})

export const listTargets = (db: Db) => db.select().from(backupTargets).orderBy(asc(backupTargets.name))

export async function getTarget(db: Db, idOrName: string): Promise<BackupTarget> {
  const [byId] = await db.select().from(backupTargets).where(eq(backupTargets.id, idOrName))
  if (byId) return byId
  const [byName] = await db.select().from(backupTargets).where(eq(backupTargets.name, idOrName))
  if (!byName) throw notFound('Backup target')
  return byName
}

const retentionOf = (r: TargetInput['retention']) => ({
  ...(r?.keepLast !== undefined ? { keepLast: r.keepLast } : {}),
  ...(r?.daily !== undefined ? { keepDaily: r.daily } : {}),
  ...(r?.weekly !== undefined ? { keepWeekly: r.weekly } : {}),
  ...(r?.monthly !== undefined ? { keepMonthly: r.monthly } : {}),
})

const destinationOf = (d: TargetInput['destination']) => {
  const { kind = 'local', ...config } = d ?? {}
  return { destinationKind: kind, destinationConfig: config as Record<string, unknown> }
}

const uniqueName = (error: unknown, name: string) =>
  isUniqueViolation(error) ? conflict(`A backup target named ${name} already exists`) : error

export type TargetDeps = { db: Db; sealer: Sealer; commands: BackupCommands }

export async function createTarget({ db, sealer, commands }: TargetDeps, input: TargetInput, now: number) {
  const id = newId(now)
  const dest = destinationOf(input.destination)
  requireS3Secret(dest)
  requireListedCommand(commands, input.kind, input.config)
  const row = {
    id,
    name: input.name,
    kind: input.kind,
    config: sealSecrets(sealer, id, input.config ?? {}),
    destinationKind: dest.destinationKind,
    destinationConfig: sealSecrets(sealer, id, dest.destinationConfig),
    schedule: input.schedule ?? DEFAULT_SCHEDULE,
    ...retentionOf(input.retention),
    enabled: input.enabled ?? true,
    createdAt: now,
    updatedAt: now,
  }
  try {
    const [created] = await db.insert(backupTargets).values(row).returning()
    return created!
  } catch (error) {
    throw uniqueName(error, input.name)
  }
}

const configSchemas = { homeostat: HomeostatConfig, qdrant: QdrantPatchConfig, command: CommandConfig } as const

export async function updateTarget(
  { db, sealer, commands }: TargetDeps,
  before: BackupTarget,
  patch: TargetPatchInput,
  now: number,
) {
  if (patch.config) {
    const checked = v.safeParse(configSchemas[before.kind], patch.config)
    if (!checked.success)
      throw new AppError(400, 'invalid_input', 'Invalid body', [
        { field: 'config', message: `does not fit a ${before.kind} target` },
      ])
  }
  if (patch.name && before.id === DEFAULT_TARGET && patch.name !== before.name)
    throw new AppError(400, 'invalid_input', 'Invalid body', [
      { field: 'name', message: 'the default homeostat target keeps its name' },
    ])
  if (patch.config) {
    requireSecretsOnMove(before.config, patch.config, ['url'], 'apiKey', 'config')
    requireListedCommand(commands, before.kind, patch.config)
  }
  const dest = patch.destination ? destinationOf(patch.destination) : undefined
  if (dest) {
    const sameKind = dest.destinationKind === before.destinationKind
    if (sameKind)
      requireSecretsOnMove(
        before.destinationConfig,
        dest.destinationConfig,
        ['endpoint', 'bucket', 'forcePathStyle'],
        'secretAccessKey',
        'destination',
      )
    requireS3Secret({
      destinationKind: dest.destinationKind,
      destinationConfig: sealSecrets(
        sealer,
        before.id,
        dest.destinationConfig,
        sameKind ? before.destinationConfig : undefined,
      ),
    })
  }
  const set = {
    ...(patch.name ? { name: patch.name } : {}),
    ...(patch.config ? { config: sealSecrets(sealer, before.id, patch.config, before.config) } : {}),
    ...(dest
      ? {
          destinationKind: dest.destinationKind,
          destinationConfig: sealSecrets(
            sealer,
            before.id,
            dest.destinationConfig,
            dest.destinationKind === before.destinationKind ? before.destinationConfig : undefined,
          ),
        }
      : {}),
    ...(patch.schedule ? { schedule: patch.schedule } : {}),
    ...retentionOf(patch.retention),
    ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    updatedAt: now,
  }
  try {
    const [row] = await db.update(backupTargets).set(set).where(eq(backupTargets.id, before.id)).returning()
    return row!
  } catch (error) {
    throw uniqueName(error, patch.name ?? before.name)
  }
}

export async function deleteTarget(db: Db, target: BackupTarget) {
  if (target.id === DEFAULT_TARGET)
    throw conflict('The default homeostat target cannot be deleted; disable it instead (enabled: false)')
  await db.delete(backupTargets).where(eq(backupTargets.id, target.id))
}
