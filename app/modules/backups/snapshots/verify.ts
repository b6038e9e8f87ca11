/**
 * Verification: a backup is read back from its destination, its SHA-256 compared, decrypted,
 * decompressed into a scratch file, opened with libSQL (`PRAGMA integrity_check`) and its rows
 * per table compared with the manifest. `materialize` is the same path for restores and drills.
 * Right after a snapshot is written, `verifyWritten` reads it back and decompresses it whole but
 * compares the SHA-256 of the decompressed bytes with the copy checked while it was compressed,
 * rather than writing and checking those same bytes a second time.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Backup, BackupManifest } from '../../../../db/schema/backups.ts'
import { AppError } from '../../../lib/errors.ts'
import { randomToken } from '../../../lib/ids.ts'
import type { BackupDestination } from '../destinations/types.ts'
import type { SnapshotContext } from './context.ts'
import { canDecrypt, decrypt } from './encryption.ts'
import { type DatabaseFacts, inspectDatabase } from './sqlite.ts'
import { gunzip, measured, writeFileStream } from './streams.ts'

/** What differs between a copy and its manifest; empty when they agree. */
export function compareWithManifest(facts: DatabaseFacts, manifest: BackupManifest): string[] {
  const problems = facts.problems.map((p) => `integrity check: ${p}`)
  const tables = new Set([...Object.keys(manifest.rowCounts), ...Object.keys(facts.rowCounts)])
  for (const table of tables) {
    const want = manifest.rowCounts[table]
    const got = facts.rowCounts[table]
    if (want !== got) problems.push(`${table}: ${got ?? 'no table'} rows, the manifest says ${want ?? 'no table'}`)
  }
  if (facts.schemaVersion !== manifest.schemaVersion)
    problems.push(`schema version ${facts.schemaVersion}, the manifest says ${manifest.schemaVersion}`)
  return problems
}

type Stored = Pick<Backup, 'location' | 'encryption' | 'sha256'> & { manifest: BackupManifest | null }

/**
 * Reads a backup back into the database file `path` (which must not exist) and checks it against its
 * manifest. Throws an AppError naming what is wrong (422 `backup_invalid`, or `backup_decrypt_failed`).
 */
export async function materialize(
  ctx: SnapshotContext,
  dest: BackupDestination,
  b: Stored,
  path: string,
): Promise<DatabaseFacts> {
  if (!b.manifest) throw invalid(['it has no manifest (it never finished)'])
  const enc = await ctx.encryption()
  const stored = measured(dest.get(b.location))
  let plain: ReturnType<typeof measured> | undefined
  let facts: DatabaseFacts
  try {
    plain = measured(gunzip(decrypt(b.encryption, enc, stored.body)))
    await writeFileStream(path, plain.body)
    facts = await inspectDatabase(path)
  } catch (error) {
    if (error instanceof AppError) throw error
    const why = error instanceof Error ? error.message : String(error)
    throw invalid([`cannot be read as a compressed SQLite database (${why})`])
  }
  const problems = compareWithManifest(facts, b.manifest)
  const databaseSha256 = plain?.result().sha256
  if (b.manifest.databaseSha256 && databaseSha256 !== b.manifest.databaseSha256)
    problems.push(`the database's SHA-256 is ${databaseSha256}, the manifest says ${b.manifest.databaseSha256}`)
  try {
    const { sha256 } = stored.result()
    if (b.sha256 && sha256 !== b.sha256) problems.unshift(`its SHA-256 is ${sha256}, the manifest says ${b.sha256}`)
  } catch {
    problems.unshift('the stored copy was not read to its end')
  }
  if (problems.length) throw invalid(problems)
  return facts
}

const invalid = (problems: string[]) =>
  new AppError(422, 'backup_invalid', `The backup does not verify: ${problems.join('; ')}`, [
    ...problems.map((message) => ({ field: 'backup', message })),
  ])

/**
 * Verifies a snapshot just written: read back whole from the destination, its SHA-256 compared,
 * decrypted and decompressed, and the SHA-256 of the decompressed bytes compared with the manifest's
 * `databaseSha256`: the bytes of the copy that passed `PRAGMA integrity_check` and gave the row
 * counts while it was being compressed. Equal hashes mean the stored backup decodes to exactly that
 * checked file, so checking it again would read the same bytes to the same answer (ADR 0009). Without
 * that hash, or for a backup this server cannot decrypt, it is `verifyStored`. Resolves to the
 * problems found (empty: good).
 */
export async function verifyWritten(ctx: SnapshotContext, dest: BackupDestination, b: Stored): Promise<string[]> {
  const enc = await ctx.encryption()
  const want = b.manifest?.databaseSha256
  if (!want || (b.encryption === 'age' && !canDecrypt(enc))) return verifyStored(ctx, dest, b)
  const stored = measured(dest.get(b.location))
  const plain = measured(gunzip(decrypt(b.encryption, enc, stored.body)))
  try {
    for await (const _ of plain.body);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    return [`The backup does not verify: cannot be read back as a compressed SQLite database (${why})`]
  }
  const problems: string[] = []
  const { sha256 } = stored.result()
  if (sha256 !== b.sha256) problems.push(`its SHA-256 is ${sha256}, the manifest says ${b.sha256}`)
  const got = plain.result().sha256
  if (got !== want) problems.push(`the database's SHA-256 is ${got}, the manifest says ${want}`)
  return problems.length ? [`The backup does not verify: ${problems.join('; ')}`] : []
}

/**
 * Verifies a stored backup; resolves to the problems found (empty: good). A backup encrypted to an
 * age recipient whose identity this server does not hold is checked by its SHA-256 only.
 */
export async function verifyStored(ctx: SnapshotContext, dest: BackupDestination, b: Stored): Promise<string[]> {
  if (b.encryption === 'age' && !canDecrypt(await ctx.encryption())) {
    const stored = measured(dest.get(b.location))
    try {
      for await (const _ of stored.body);
    } catch (error) {
      return [`cannot be read back (${error instanceof Error ? error.message : String(error)})`]
    }
    const { sha256 } = stored.result()
    return sha256 === b.sha256 ? [] : [`its SHA-256 is ${sha256}, the manifest says ${b.sha256}`]
  }
  const scratch = join(ctx.config.DATA_DIR, `.verify-${randomToken(8)}.db`)
  try {
    await materialize(ctx, dest, b, scratch)
    return []
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)]
  } finally {
    await rm(scratch, { force: true })
  }
}
