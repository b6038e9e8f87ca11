/**
 * Restoring a store backup (after the same two-admin approval as the database): the stored copy is
 * first read back and checked (size, SHA-256), then streamed again, decrypted, into the source's
 * restore: Qdrant's snapshot upload, or the command's listed `restore` command on its stdin. The
 * second read is hashed too: bytes that change between the check and the restore stop it before its end.
 */
import { createHash } from 'node:crypto'
import type { Backup } from '../../../../db/schema/backups.ts'
import { AppError, conflict } from '../../../lib/errors.ts'
import { getTarget } from '../targets/store.ts'
import { type SnapshotContext, storedDestination } from '../snapshots/context.ts'
import { decrypt } from '../snapshots/encryption.ts'
import type { Progress } from '../snapshots/progress.ts'
import { lookupRestore } from '../sources/command.ts'
import { isStoreTarget, type StoreTarget, storeSource } from './sources.ts'
import { verifyStoreCopy } from './run.ts'

/** The target a store backup is restored through (its current config: URL, API key, command). */
export async function restoreTargetOf(ctx: SnapshotContext, b: Backup): Promise<StoreTarget> {
  const target = b.targetId ? await getTarget(ctx.db, b.targetId).catch(() => undefined) : undefined
  if (!target || !isStoreTarget(target) || target.kind !== b.kind)
    throw conflict(`Backup ${b.id} has no ${b.kind} target any more to restore it through`)
  if (target.kind === 'command') {
    const problem = lookupRestore(ctx.commands, target.config.command as string)
    if (problem) throw conflict(problem)
  }
  return target
}

async function* checked(body: AsyncIterable<Uint8Array>, sha256: string | null) {
  const hash = createHash('sha256')
  for await (const chunk of body) {
    hash.update(chunk)
    yield chunk
  }
  const got = hash.digest('hex')
  if (got !== sha256) throw new Error(`the stored copy changed while it was restored (SHA-256 ${got})`)
}

export async function restoreStore(ctx: SnapshotContext, b: Backup, progress: Progress, signal: AbortSignal) {
  const target = await restoreTargetOf(ctx, b)
  const dest = await storedDestination(ctx, b)
  const problems = await verifyStoreCopy(dest, b)
  if (problems.length)
    throw new AppError(
      422,
      'backup_invalid',
      `The backup does not verify: ${problems.join('; ')}`,
      problems.map((message) => ({ field: 'backup', message })),
    )
  const start = performance.now()
  const { source } = storeSource(ctx, target)
  if (!source.restore) throw conflict(`A ${b.kind} backup cannot be restored by Homeostat`)
  const enc = await ctx.encryption()
  try {
    await source.restore(decrypt(b.encryption, enc, progress.count(checked(dest.get(b.location), b.sha256))), signal)
  } catch (error) {
    if (error instanceof AppError) throw error
    // The store refused or the restore command failed: the caller gets its words (stderr's end,
    // Qdrant's error), which name the store's problem, not ours.
    throw new AppError(502, 'restore_failed', `The restore of ${b.id} failed: ${(error as Error).message}`)
  } finally {
    await progress.flush()
  }
  return { durationMs: Math.round(performance.now() - start) }
}
