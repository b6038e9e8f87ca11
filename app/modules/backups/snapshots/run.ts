/**
 * Making a backup: a `running` row first, then the source's bytes (compressed, encrypted when set,
 * hashed on the way) written atomically to the destination with the manifest beside them, then
 * read back and verified. Only a verified backup becomes `good`; anything else is `failed` and
 * raises `backup_failed`.
 */
import { mkdir } from 'node:fs/promises'
import { and, eq } from 'drizzle-orm'
import pkg from '../../../../package.json' with { type: 'json' }
import { type Backup, type BackupManifest, type BackupTarget, backups } from '../../../../db/schema/backups.ts'
import { newId } from '../../../lib/ids.ts'
import { writeAudit } from '../../audit/index.ts'
import { dbFilePath, homeostatSource } from '../sources/homeostat.ts'
import { raiseBackupFailed, resolveBackupAlerts } from './alerts.ts'
import { destinationFor, type SnapshotContext, scratchDir } from './context.ts'
import { encrypt, manifestEncryption } from './encryption.ts'
import { backupProgress, countingReads } from './progress.ts'
import { measured } from './streams.ts'
import { verifyWritten } from './verify.ts'

export const HOMEOSTAT_VERSION: string = pkg.version

export type Trigger = Backup['trigger']

export const manifestKey = (location: string) => `${location}.manifest.json`

async function* once(bytes: Uint8Array) {
  yield bytes
}

/** Where a backup's bytes are stored: `<target>/<id>.db.gz`, `.age` added when encrypted. */
const locationOf = (target: BackupTarget, id: string, encrypted: boolean) =>
  `${target.name}/${id}.db.gz${encrypted ? '.age' : ''}`

/**
 * Starts a backup of `target`: the `running` row is written before this resolves; `done` settles
 * once it is good or failed (it never rejects). A remote or in-memory database is refused (409)
 * before any row is written.
 */
export async function startBackup(
  ctx: SnapshotContext,
  target: BackupTarget,
  opts: { trigger: Trigger; actor: string; signal?: AbortSignal },
): Promise<{ row: Backup; done: Promise<Backup> }> {
  dbFilePath(ctx.config.DATABASE_URL)
  // Refused before a row is written when the destination is incomplete.
  destinationFor(ctx, target)
  return beginBackup(ctx, target, opts, locationOf, (row) => produce(ctx, target, row, opts))
}

/**
 * The start every backup shares, whatever its kind: the `running` row written first (never good
 * until verified), then `produce` in the background. `done` never rejects: a failure is recorded as
 * `failed` (and raises `backup_failed`); if even that cannot be written (the database closed under
 * it), the row stays `running`, which is never good, and the retention job marks it failed later.
 */
export async function beginBackup<T extends BackupTarget>(
  ctx: SnapshotContext,
  target: T,
  opts: { trigger: Trigger; actor: string },
  locate: (target: T, id: string, encrypted: boolean) => string,
  produce: (row: Backup) => Promise<Backup>,
): Promise<{ row: Backup; done: Promise<Backup> }> {
  const enc = await ctx.encryption()
  const startedAt = ctx.now()
  const id = newId(startedAt)
  const [row] = await ctx.db
    .insert(backups)
    .values({
      id,
      targetId: target.id,
      targetName: target.name,
      kind: target.kind,
      status: 'running',
      trigger: opts.trigger,
      destinationKind: target.destinationKind,
      location: locate(target, id, enc.mode !== 'none'),
      encryption: manifestEncryption(enc),
      createdBy: opts.actor,
      startedAt,
      heartbeatAt: startedAt,
    })
    .returning()
  const beat = heartbeat(ctx, id)
  const done = produce(row!)
    .catch(async (error) => fail(ctx, row!, error instanceof Error ? error.message : String(error)))
    .catch((error): Backup => {
      ctx.log.error('backup failed and could not be recorded', { backup: row!.id, error: String(error) })
      return { ...row!, status: 'failed', error: String(error) }
    })
    .finally(beat)
  return { row: row!, done }
}

/** How often a running backup says it is alive, and how long without that makes it abandoned. */
export const HEARTBEAT_MS = 5_000
export const ABANDONED_AFTER_MS = 30_000

/**
 * Refreshes a running backup's `heartbeatAt` until the returned function is called. A process
 * killed mid-backup stops refreshing, so another instance (or this one after a restart) can tell
 * a dead backup from a slow one within ABANDONED_AFTER_MS instead of hours.
 */
function heartbeat(ctx: SnapshotContext, id: string) {
  const timer = setInterval(() => {
    ctx.db
      .update(backups)
      .set({ heartbeatAt: ctx.now() })
      .where(and(eq(backups.id, id), eq(backups.status, 'running')))
      .catch((error) => ctx.log.warn('backup heartbeat not written', { backup: id, error: String(error) }))
  }, HEARTBEAT_MS)
  // A heartbeat alone never keeps the process up (shutdown waits for the backup itself).
  ;(timer as { unref?: () => void }).unref?.()
  return () => clearInterval(timer)
}

async function produce(
  ctx: SnapshotContext,
  target: BackupTarget,
  row: Backup,
  opts: { actor: string; signal?: AbortSignal },
): Promise<Backup> {
  const dest = destinationFor(ctx, target)
  const enc = await ctx.encryption()
  await mkdir(scratchDir(ctx.config), { recursive: true })
  const source = homeostatSource({ databaseUrl: ctx.config.DATABASE_URL, scratchDir: scratchDir(ctx.config) })
  const progress = backupProgress(ctx.db, row.id)
  progress.phase('snapshot')
  const stored = measured(encrypt(enc, source.produce(opts.signal ?? new AbortController().signal)))
  // Compression and the upload stream together: the bytes counted are the stored ones.
  await dest.put(row.location, progress.count(stored.body, 'upload'))
  const { size, sha256 } = stored.result()
  const facts = source.facts()
  const finishedAt = ctx.now()
  const manifest: BackupManifest = {
    format: 1,
    id: row.id,
    target: target.name,
    kind: target.kind,
    createdAt: new Date(row.startedAt).toISOString(),
    size,
    sha256,
    compression: 'gzip',
    encryption: manifestEncryption(enc),
    schemaVersion: facts.schemaVersion,
    lastMigration: facts.lastMigration,
    rowCounts: facts.rowCounts,
    homeostatVersion: HOMEOSTAT_VERSION,
    databaseBytes: facts.databaseBytes,
    databaseSha256: facts.databaseSha256,
  }
  await dest.put(manifestKey(row.location), once(new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)))
  await ctx.db
    .update(backups)
    .set({ size, sha256, manifest, finishedAt, durationMs: finishedAt - row.startedAt })
    .where(eq(backups.id, row.id))
  progress.phase('verify')
  await progress.flush()
  const verifyStart = ctx.now()
  const problems = await verifyWritten(ctx, countingReads(dest, progress), {
    location: row.location,
    encryption: row.encryption,
    sha256,
    manifest,
  })
  await progress.flush()
  return settleVerified(ctx, row, problems, {
    actor: opts.actor,
    verifyStart,
    summary: `${target.name}: ${size} bytes, verified`,
  })
}

/**
 * The end every backup shares once its copy was read back: `failed` with the problems found, or
 * `good` with the verification's time, audited, and the target's backup alerts resolved.
 */
export async function settleVerified(
  ctx: SnapshotContext,
  row: Backup,
  problems: string[],
  opts: { actor: string; verifyStart: number; summary: string },
): Promise<Backup> {
  if (problems.length) return fail(ctx, row, problems.join('; '))
  const verifiedAt = ctx.now()
  const [good] = await ctx.db
    .update(backups)
    .set({ status: 'good', verifiedAt, verifyMs: verifiedAt - opts.verifyStart })
    .where(eq(backups.id, row.id))
    .returning()
  await writeAudit(ctx.db, { actor: opts.actor, action: 'backup.created', target: row.id, summary: opts.summary })
  await resolveBackupAlerts(ctx.alerts, row.targetName, verifiedAt).catch((e) =>
    ctx.log.warn('could not resolve backup alerts', { error: String(e) }),
  )
  return good!
}

/** Marks a backup failed (it is never good afterwards), writes the audit row and raises `backup_failed`. */
export async function fail(ctx: SnapshotContext, row: Backup, error: string): Promise<Backup> {
  const at = ctx.now()
  ctx.log.error('backup failed', { backup: row.id, target: row.targetName, error })
  const [failed] = await ctx.db
    .update(backups)
    .set({ status: 'failed', error, finishedAt: at, durationMs: at - row.startedAt })
    .where(eq(backups.id, row.id))
    .returning()
  await writeAudit(ctx.db, { actor: 'backups', action: 'backup.failed', target: row.id, summary: error.slice(0, 500) })
  await raiseBackupFailed(ctx.alerts, { target: row.targetName, backupId: row.id, error }, at).catch((e) =>
    ctx.log.error('could not raise backup_failed', { error: String(e) }),
  )
  return failed ?? { ...row, status: 'failed', error }
}
