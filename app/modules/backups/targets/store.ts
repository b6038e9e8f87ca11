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
import { CommandConfig, HomeostatConfig, QdrantConfig, type TargetInput, type TargetPatchInput } from './input.ts'

export const DEFAULT_TARGET = 'homeostat'
export const DEFAULT_SCHEDULE = '0 3 * * *'
const SECRET_FIELDS = ['apiKey', 'secretAccessKey'] as const

const aad = (id: string, field: string) => `backup_target:${id}:${field}`

function sealSecrets(sealer: Sealer, id: string, config: Record<string, unknown>, before?: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...config }
  for (const field of SECRET_FIELDS) {
    const value = config[field]
    if (typeof value === 'string') out[field] = sealer.seal(value, aad(id, field))
    // A change that leaves a secret out keeps the sealed one it had.
    else if (before && typeof before[field] === 'string') out[field] = before[field]
  }
  return out
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

export async function createTarget(db: Db, sealer: Sealer, input: TargetInput, now: number) {
  const id = newId(now)
  const dest = destinationOf(input.destination)
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

const configSchemas = { homeostat: HomeostatConfig, qdrant: QdrantConfig, command: CommandConfig } as const

export async function updateTarget(db: Db, sealer: Sealer, before: BackupTarget, patch: TargetPatchInput, now: number) {
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
  const dest = patch.destination ? destinationOf(patch.destination) : undefined
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
