/**
 * Homeostat's own database as a backup source: a consistent copy by `VACUUM INTO` a scratch file in
 * DATA_DIR (one read transaction on a worker thread's own connection, so the server keeps reading
 * and writing while it runs; WAL lets the writers go on), then that file streamed gzip-compressed
 * while the same thread checks it (`PRAGMA integrity_check`, rows per table, migrations): the two run
 * side by side. The facts of the checked copy (its rows, migrations, size and the SHA-256 of its
 * bytes) are what the manifest records; a copy that fails the check fails the snapshot.
 *
 * Only a local file database can be copied this way: for a remote `libsql://` / `https://` database
 * (Turso, sqld) use that service's own backups; `dbFilePath` says so.
 */
import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError } from '../../../lib/errors.ts'
import { randomToken } from '../../../lib/ids.ts'
import { type DatabaseFacts, snapshotInto } from '../snapshots/sqlite.ts'
import { gzip, measured, readFileStream } from '../snapshots/streams.ts'
import type { BackupSource } from './types.ts'

export type SnapshotFacts = DatabaseFacts & { databaseBytes: number; databaseSha256: string }

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

/** The scratch copies a snapshot makes in DATA_DIR, removed when it ends (or, after a kill, by `removeStaleScratch`). */
const SCRATCH_PREFIX = '.snapshot-'

/** Removes scratch copies older than `olderThanMs`: a process killed mid-snapshot never removed its own. */
export async function removeStaleScratch(dir: string, olderThanMs: number, now: number): Promise<number> {
  let removed = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(SCRATCH_PREFIX) || !name.endsWith('.db')) continue
    const info = await stat(join(dir, name)).catch(() => null)
    if (info && info.mtimeMs < now - olderThanMs) {
      await rm(join(dir, name), { force: true })
      removed++
    }
  }
  return removed
}

export function homeostatSource(opts: { databaseUrl: string; scratchDir: string }) {
  let facts: SnapshotFacts | undefined
  const source = {
    kind: 'homeostat' as const,
    async *produce(signal: AbortSignal) {
      const path = dbFilePath(opts.databaseUrl)
      const scratch = join(opts.scratchDir, `${SCRATCH_PREFIX}${Date.now()}-${randomToken(6)}.db`)
      // Stops the checking thread when the stream is not read to its end (a failed write, an abort).
      const stop = new AbortController()
      const snapshot = snapshotInto(path, scratch, AbortSignal.any([signal, stop.signal]))
      snapshot.facts.catch(() => {}) // awaited below; not an unhandled rejection meanwhile
      try {
        await snapshot.copied
        const databaseBytes = (await stat(scratch)).size
        const plain = measured(readFileStream(scratch))
        yield* gzip(plain.body)
        const found = await snapshot.facts
        if (found.problems.length)
          throw new Error(`the snapshot does not pass PRAGMA integrity_check: ${found.problems.slice(0, 5).join('; ')}`)
        facts = { ...found, databaseBytes, databaseSha256: plain.result().sha256 }
      } finally {
        stop.abort()
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
