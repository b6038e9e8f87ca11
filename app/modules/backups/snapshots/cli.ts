/**
 * What `npm run cli -- backups …` does, beside the server: restore into a stopped server's
 * database (by backup id, or from a backup file with its manifest beside it), drill, list.
 */
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import type { Backup, BackupManifest } from '../../../../db/schema/backups.ts'
import { AppError } from '../../../lib/errors.ts'
import { localDestination } from '../destinations/local.ts'
import { dbFilePath } from '../sources/homeostat.ts'
import type { BackupDestination } from '../destinations/types.ts'
import { storedDestination } from './context.ts'
import { listBackups } from './queries.ts'
import { databaseManifest, preparedPathFor, readCatalog, swapFiles } from './restore.ts'
import type { BackupsService } from './service.ts'
import { materialize } from './verify.ts'

type Restorable = Pick<Backup, 'id' | 'location' | 'encryption' | 'sha256'> & { manifest: BackupManifest | null }

/** A backup file given on the command line, with the manifest written beside it. */
function fromFile(file: string): { backup: Restorable; dest: ReturnType<typeof localDestination> } {
  const path = resolve(file)
  if (!existsSync(path)) throw new AppError(404, 'not_found', `No backup file at ${path}`)
  const manifestPath = `${path}.manifest.json`
  if (!existsSync(manifestPath))
    throw new AppError(400, 'invalid_input', `No manifest beside the file (${manifestPath}): it is needed to verify`)
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as BackupManifest
  if (manifest.kind !== 'homeostat')
    throw new AppError(400, 'invalid_input', `${path} is a ${manifest.kind} backup, not a Homeostat database`)
  const location = basename(path)
  return {
    backup: { id: manifest.id, location, encryption: manifest.encryption, sha256: manifest.sha256, manifest },
    dest: localDestination(dirname(path)),
  }
}

/**
 * Restores `idOrFile` into DATABASE_URL's file: reads and verifies it into a file beside the
 * database, then, once `confirm()` agrees, calls `closeDb()` (the CLI's own connection) and swaps
 * the files. The server must be stopped: a running one would keep writing to the replaced file.
 */
export async function restoreFromCli(
  backups: BackupsService,
  idOrFile: string,
  opts: { confirm: (what: string) => Promise<boolean>; closeDb: () => void },
) {
  const { ctx } = backups
  const dbPath = dbFilePath(ctx.config.DATABASE_URL)
  const looksLikeFile = idOrFile.includes('/') || idOrFile.endsWith('.gz') || idOrFile.endsWith('.age')
  let source: { backup: Restorable; dest: BackupDestination }
  if (looksLikeFile) source = fromFile(idOrFile)
  else {
    const row = await backups.getBackup(idOrFile)
    if (row.status !== 'good') throw new AppError(409, 'conflict', `Backup ${row.id} is ${row.status}, not good`)
    // A store's backup goes back into its store (the API's restore), not into this database.
    if (row.kind !== 'homeostat')
      throw new AppError(409, 'conflict', `Backup ${row.id} is a ${row.kind} backup; restore it through the API`)
    source = { backup: { ...row, manifest: databaseManifest(row.manifest) }, dest: await storedDestination(ctx, row) }
  }
  const prepared = preparedPathFor(dbPath)
  const start = performance.now()
  const facts = await materialize(ctx, source.dest, source.backup, prepared)
  const rows = Object.values(facts.rowCounts).reduce((a, b) => a + b, 0)
  const ok = await opts.confirm(
    `Backup ${source.backup.id} verified (${rows} rows in ${Object.keys(facts.rowCounts).length} tables). ` +
      `Replace ${dbPath}? The current file is kept beside it.`,
  )
  if (!ok) {
    await import('node:fs/promises').then((fs) => fs.rm(prepared, { force: true }))
    return null
  }
  const catalog = await readCatalog(ctx.db)
  opts.closeDb()
  const keptAs = swapFiles(dbPath, prepared, ctx.now())
  return {
    keptAs,
    backupId: source.backup.id,
    rowCounts: facts.rowCounts,
    catalog,
    manifest: source.backup.manifest,
    durationMs: Math.round(performance.now() - start),
  }
}

export const drillFromCli = (backups: BackupsService) => backups.runDrill({ id: 'cli', name: 'cli' })

export const listForCli = async (backups: BackupsService) => (await listBackups(backups.ctx.db, { limit: 50 })).items
