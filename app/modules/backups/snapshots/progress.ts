/**
 * Progress of long work (a backup's phase and bytes, a restore's bytes) written to its row for the
 * page to poll. Writes are throttled to one every PROGRESS_EVERY_MS and chained, so a fast stream
 * costs a handful of small updates, never one per chunk, and they land in order.
 */
import { eq } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { type BackupPhase, backupRestores, backups } from '../../../../db/schema/backups.ts'
import type { BackupDestination } from '../destinations/types.ts'

export const PROGRESS_EVERY_MS = 500

type Bytes = AsyncIterable<Uint8Array>

export type Progress = {
  /** Enters a phase (written at once); bytes count again from 0. */
  phase(p: BackupPhase): void
  /** Passes the bytes through, counting them; with `phase`, that phase starts at the first byte. */
  count(body: Bytes, phase?: BackupPhase): Bytes
  /** Waits for the writes sent so far. */
  flush(): Promise<void>
}

/** The throttle itself, over any write and clock (tests drive it with a fake clock). */
export function throttledProgress(
  write: (set: { phase?: BackupPhase; bytesDone: number }) => Promise<unknown>,
  clock: () => number = Date.now,
): Progress {
  let chain: Promise<unknown> = Promise.resolve()
  let last = 0
  let done = 0
  let phase: BackupPhase | undefined
  const send = () => {
    last = clock()
    const set = { ...(phase ? { phase } : {}), bytesDone: done }
    // Progress is advisory: a failed write must not fail the backup.
    chain = chain.then(() => write(set)).catch(() => undefined)
  }
  const enter = (p: BackupPhase) => {
    phase = p
    done = 0
    send()
  }
  return {
    phase: enter,
    async *count(body: Bytes, next?: BackupPhase) {
      for await (const chunk of body) {
        if (next && phase !== next) enter(next)
        done += chunk.byteLength
        if (clock() - last >= PROGRESS_EVERY_MS) send()
        yield chunk
      }
      send()
    },
    flush: () => chain.then(() => undefined),
  }
}

export const backupProgress = (db: Db, id: string): Progress =>
  throttledProgress((set) => db.update(backups).set(set).where(eq(backups.id, id)))

export const restoreProgress = (db: Db, id: string): Progress =>
  throttledProgress(({ bytesDone }) => db.update(backupRestores).set({ bytesDone }).where(eq(backupRestores.id, id)))

/** The destination with its reads counted: verification and restores read through it. */
export const countingReads = (dest: BackupDestination, progress: Progress): BackupDestination => ({
  ...dest,
  get: (key) => progress.count(dest.get(key)),
})
