/**
 * Homeostat's own database as a backup source: a consistent copy by `VACUUM INTO` a scratch file in
 * DATA_DIR (one read transaction on a worker thread's own connection, so the server keeps reading
 * and writing while it runs; WAL lets the writers go on), then that file streamed gzip-compressed.
 * The facts of the copy (rows per table, migrations applied, its size) are what the manifest records.
 *
 * Only a local file database can be copied this way: for a remote `libsql://` / `https://` database
 * (Turso, sqld) use that service's own backups; `dbFilePath` says so.
 */
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError } from '../../../lib/errors.ts'
import { randomToken } from '../../../lib/ids.ts'
import { type DatabaseFacts, vacuumInto } from '../snapshots/sqlite.ts'
import { gzip, readFileStream } from '../snapshots/streams.ts'
import type { BackupSource } from './types.ts'

export type SnapshotFacts = DatabaseFacts & { databaseBytes: number }

/** The file of a local database URL; a remote or in-memory database cannot be snapshotted here. */
export function dbFilePath(databaseUrl: string): string {
  const path = databaseUrl.startsWith('file:') ? databaseUrl.slice('file:'.length).split('?')[0]! : ''
  if (!path || path === ':memory:')
    throw new AppError(
      409,
      'backup_unsupported',
      `Snapshots need a local database file; DATABASE_URL is ${databaseUrl.split(':')[0]}:… ` +
        '(for Turso or sqld, use that service’s own backups and point-in-time restore)',
    )
  return path
}

export function homeostatSource(opts: { databaseUrl: string; scratchDir: string }) {
  let facts: SnapshotFacts | undefined
  const source = {
    kind: 'homeostat' as const,
    async *produce(signal: AbortSignal) {
      const path = dbFilePath(opts.databaseUrl)
      const scratch = join(opts.scratchDir, `.snapshot-${Date.now()}-${randomToken(6)}.db`)
      try {
        const found = await vacuumInto(path, scratch, signal)
        facts = { ...found, databaseBytes: (await stat(scratch)).size }
        yield* gzip(readFileStream(scratch))
      } finally {
        await rm(scratch, { force: true })
      }
    },
    /** The copy's facts, once `produce` has run to the end. */
    facts(): SnapshotFacts {
      if (!facts) throw new Error('the snapshot has not been produced yet')
      return facts
    },
  } satisfies BackupSource & { facts(): SnapshotFacts }
  return source
}
