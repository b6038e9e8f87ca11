/**
 * Backups of guarded stores (a Qdrant collection, a command's output), made as the database's are:
 * a `running` row first, then the source's bytes streamed (encrypted when BACKUP_ENCRYPTION is set,
 * hashed on the way) to the target's destination with a manifest beside them, then read back and
 * verified. Only a verified backup becomes `good`; a failure is `failed` and raises `backup_failed`.
 * The bytes are stored as the source made them: compress in the command (`tar -z`, `--gzip`) where
 * it helps; a Qdrant snapshot or a `pg_dump -Fc` is compressed already.
 */
import { eq } from 'drizzle-orm'
import { type Backup, backups, type StoreManifest } from '../../../../db/schema/backups.ts'
import type { BackupDestination } from '../destinations/types.ts'
import { destinationFor, type SnapshotContext } from '../snapshots/context.ts'
import { encrypt, manifestEncryption } from '../snapshots/encryption.ts'
import { backupProgress } from '../snapshots/progress.ts'
import { beginBackup, HOMEOSTAT_VERSION, manifestKey, settleVerified, type Trigger } from '../snapshots/run.ts'
import { measured } from '../snapshots/streams.ts'
import { type StoreTarget, storeLocation, storeSource } from './sources.ts'

async function* once(bytes: Uint8Array) {
  yield bytes
}

/**
 * Starts a backup of a store target; the `running` row is written before this resolves and `done`
 * settles once it is good or failed (never rejects). An incomplete target config or destination
 * is refused (409) before any row is written.
 */
export async function startStoreBackup(
  ctx: SnapshotContext,
  target: StoreTarget,
  opts: { trigger: Trigger; actor: string; signal?: AbortSignal },
): Promise<{ row: Backup; done: Promise<Backup> }> {
  storeSource(ctx, target)
  destinationFor(ctx, target)
  return beginBackup(ctx, target, opts, storeLocation, (row) => produce(ctx, target, row, opts))
}

async function produce(
  ctx: SnapshotContext,
  target: StoreTarget,
  row: Backup,
  opts: { actor: string; signal?: AbortSignal },
) {
  const dest = destinationFor(ctx, target)
  const { source, details } = storeSource(ctx, target)
  const enc = await ctx.encryption()
  const progress = backupProgress(ctx.db, row.id)
  // Qdrant writes its snapshot before the first byte comes; a command's bytes come at once.
  progress.phase('snapshot')
  const stored = measured(encrypt(enc, source.produce(opts.signal ?? new AbortController().signal)))
  await dest.put(row.location, progress.count(stored.body, 'upload'))
  const { size, sha256 } = stored.result()
  const manifest: StoreManifest = {
    format: 1,
    id: row.id,
    target: target.name,
    kind: target.kind,
    createdAt: new Date(row.startedAt).toISOString(),
    size,
    sha256,
    compression: 'none',
    encryption: manifestEncryption(enc),
    source: details,
    homeostatVersion: HOMEOSTAT_VERSION,
  }
  await dest.put(manifestKey(row.location), once(new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)))
  const finishedAt = ctx.now()
  await ctx.db
    .update(backups)
    .set({ size, sha256, manifest, finishedAt, durationMs: finishedAt - row.startedAt })
    .where(eq(backups.id, row.id))
  progress.phase('verify')
  const verifyStart = ctx.now()
  const problems = await verifyStoreCopy(dest, { location: row.location, size, sha256 }, progress.count)
  await progress.flush()
  return settleVerified(ctx, row, problems, {
    actor: opts.actor,
    verifyStart,
    summary: `${target.name} (${target.kind} → ${target.destinationKind}): ${size} bytes, verified`,
  })
}

type Bytes = AsyncIterable<Uint8Array>

/**
 * What "verified" means for a store backup: the stored object read back whole from its destination
 * has the size and SHA-256 recorded when it was written. (Only the store itself can read its
 * format; for Qdrant the download was also checked against Qdrant's own checksum as it came.)
 */
export async function verifyStoreCopy(
  dest: BackupDestination,
  b: { location: string; size: number | null; sha256: string | null },
  through: (body: Bytes) => Bytes = (body) => body,
): Promise<string[]> {
  const read = measured(through(dest.get(b.location)))
  try {
    for await (const _ of read.body);
  } catch (error) {
    return [`cannot be read back (${error instanceof Error ? error.message : String(error)})`]
  }
  const got = read.result()
  const problems: string[] = []
  if (b.size !== null && got.size !== b.size) problems.push(`it is ${got.size} bytes, the manifest says ${b.size}`)
  if (got.sha256 !== b.sha256) problems.push(`its SHA-256 is ${got.sha256}, the manifest says ${b.sha256}`)
  return problems
}
