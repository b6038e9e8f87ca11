/**
 * Restores: a backup read back, verified against its manifest into a file beside the database,
 * then swapped in with the replaced file kept aside (`homeostat.db.before-restore-<time>`). The CLI
 * does it to a stopped server's database; the API (after two admins) does it to the running one
 * through `reopenerOf` (db/client.ts), which closes the connections, swaps and reopens them in place.
 * A drill does the first half into a scratch file, and records how long it took.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { reopenerOf } from '../../../../db/client.ts'
import { migrationsFolder, runMigrations } from '../../../../db/migrate.ts'
import type { Db } from '../../../../db/client.ts'
import { and, eq } from 'drizzle-orm'
import {
  type Backup,
  type BackupManifest,
  type BackupRestore,
  backupRestores,
  backups,
} from '../../../../db/schema/backups.ts'
import { AppError } from '../../../lib/errors.ts'
import { randomToken } from '../../../lib/ids.ts'
import { dbFilePath } from '../sources/homeostat.ts'
import { type SnapshotContext, scratchDir, storedDestination } from './context.ts'
import { countingReads, type Progress } from './progress.ts'
import type { DatabaseFacts } from './sqlite.ts'
import { materialize } from './verify.ts'

type Restorable = Pick<
  Backup,
  'id' | 'location' | 'encryption' | 'sha256' | 'manifest' | 'destinationKind' | 'targetId'
>

/** The manifest of a snapshot of Homeostat's database (null for a store backup's, which has no tables). */
export const databaseManifest = (m: Backup['manifest']): BackupManifest | null =>
  m && m.kind === 'homeostat' ? (m as BackupManifest) : null

const shippedMigrations = () =>
  (JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries
    .length

/** Reads a backup into the new file `path` and checks it; refuses one made by a newer schema than this build's. */
export async function prepareRestore(
  ctx: SnapshotContext,
  b: Restorable,
  path: string,
  progress?: Progress,
): Promise<DatabaseFacts> {
  const shipped = shippedMigrations()
  const manifest = databaseManifest(b.manifest)
  if (b.manifest && !manifest)
    throw new AppError(409, 'conflict', `Backup ${b.id} is a ${b.manifest.kind} backup, not a Homeostat database`)
  if (manifest && manifest.schemaVersion > shipped)
    throw new AppError(
      409,
      'backup_too_new',
      `Backup ${b.id} was made by a newer Homeostat (schema version ${manifest.schemaVersion}, this build knows ${shipped}); restore it with that version`,
    )
  try {
    const dest = await storedDestination(ctx, b)
    return await materialize(ctx, progress ? countingReads(dest, progress) : dest, { ...b, manifest }, path)
  } catch (error) {
    await rm(path, { force: true })
    throw error
  }
}

const stamp = (at: number) => new Date(at).toISOString().replace(/[:.]/g, '-')

/**
 * Moves the database file (and its -wal/-shm) aside as `<db>.before-restore-<time>` and the prepared
 * file into its place: renames within one folder, each atomic. Returns where the old file went.
 */
export function swapFiles(dbPath: string, prepared: string, at: number): string {
  const keptAs = `${dbPath}.before-restore-${stamp(at)}`
  if (existsSync(dbPath)) renameSync(dbPath, keptAs)
  for (const suffix of ['-wal', '-shm']) if (existsSync(dbPath + suffix)) renameSync(dbPath + suffix, keptAs + suffix)
  renameSync(prepared, dbPath)
  return keptAs
}

export const preparedPathFor = (dbPath: string) => join(dirname(dbPath), `.restoring-${randomToken(8)}.db`)

/** A drill: the backup restored into a scratch file and verified, then removed. */
export async function drill(ctx: SnapshotContext, b: Restorable) {
  const path = join(scratchDir(ctx.config), `.drill-${randomToken(8)}.db`)
  const start = performance.now()
  try {
    const facts = await prepareRestore(ctx, b, path)
    return { durationMs: Math.round(performance.now() - start), facts }
  } finally {
    await rm(path, { force: true })
  }
}

/** The backups catalog: which backups exist and how restores went, as the database knew before a restore. */
export type Catalog = { backups: Backup[]; restores: BackupRestore[] }

export const readCatalog = async (db: Db): Promise<Catalog> => ({
  backups: await db.select().from(backups),
  restores: await db.select().from(backupRestores),
})

/**
 * Writes the catalog kept from before a restore into the restored database: the backups made since
 * the snapshot still exist on disk and stay listed, and the snapshot's own row (`running` inside
 * itself, as it was taken mid-backup) gets its final state. Other tables are exactly the backup's.
 */
export async function carryCatalog(db: Db, catalog: Catalog, restored?: BackupManifest | null) {
  // Restored from a file on a new machine: the catalog may not know it, but its manifest does.
  if (restored)
    await db
      .update(backups)
      .set({ status: 'good', size: restored.size, sha256: restored.sha256, manifest: restored })
      .where(and(eq(backups.id, restored.id), eq(backups.status, 'running')))
  for (const b of catalog.backups) await db.insert(backups).values(b).onConflictDoUpdate({ target: backups.id, set: b })
  for (const r of catalog.restores)
    await db.insert(backupRestores).values(r).onConflictDoUpdate({ target: backupRestores.id, set: r })
}

export type LiveRestoreHooks = {
  /** Stops what writes on its own (the scheduler's jobs); resolves to the function that starts it again. */
  pause(): Promise<() => void>
  /** After the swap: forget what was cached from the replaced database. */
  reopened(): void
}

/**
 * Restores into the running server's database. The backup is prepared and verified first while
 * everything runs; then jobs stop, the connections close (statements sent meanwhile wait, writes
 * of the hot insert path answer 503), the files are swapped, the connections reopen, pending
 * migrations apply (an older backup), caches are dropped and jobs start again.
 */
export async function liveRestore(ctx: SnapshotContext, b: Restorable, hooks: LiveRestoreHooks, progress?: Progress) {
  const dbPath = dbFilePath(ctx.config.DATABASE_URL)
  const reopen = reopenerOf(ctx.db)
  if (!reopen) throw new AppError(409, 'backup_unsupported', 'A live restore needs a local database file')
  const start = performance.now()
  const prepared = preparedPathFor(dbPath)
  const facts = await prepareRestore(ctx, b, prepared, progress)
  await progress?.flush()
  const resume = await hooks.pause()
  let keptAs = ''
  try {
    const catalog = await readCatalog(ctx.db)
    await reopen(() => {
      keptAs = swapFiles(dbPath, prepared, ctx.now())
    })
    await runMigrations(ctx.db)
    await carryCatalog(ctx.db, catalog)
    hooks.reopened()
  } finally {
    await rm(prepared, { force: true })
    resume()
  }
  return { keptAs, facts, durationMs: Math.round(performance.now() - start) }
}
