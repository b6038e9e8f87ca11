/**
 * A full disk under the database (SQLITE_FULL, ENOSPC). SQLite rolls the failed transaction back
 * and the connection stays usable, so nothing needs reopening: writes work again as soon as space
 * is freed. What the server needs is to say so clearly while it lasts: writes answer 507 with
 * Retry-After (senders such as Prometheus retry a 5xx), and `/ready` reports the disk as the reason
 * (ADR 0016).
 */
import { statfsSync } from 'node:fs'
import { AppError } from './errors.ts'

/** Whether an error (or one of its causes, as Drizzle wraps the driver's) is a full disk. */
export function isDiskFull(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code === 'ENOSPC' || (typeof code === 'string' && code.startsWith('SQLITE_FULL'))) return true
    if (/SQLITE_FULL|database or disk is full|no space left on device/i.test(e.message)) return true
  }
  return false
}

/** How long before a retry is worth it: freeing space is a person's work, not a moment's. */
export const DISK_FULL_RETRY_SECONDS = 30

export const diskFullError = () =>
  new AppError(
    507,
    'disk_full',
    'The disk holding the database is full: nothing was written. Reads still work; writes resume by ' +
      'themselves once space is freed',
    undefined,
    { 'Retry-After': String(DISK_FULL_RETRY_SECONDS) },
  )

export type DiskWatch = {
  /** A write failed on a full disk (called by whoever saw it: the error handler, a job). */
  noteFull(): void
  /** Whether the disk counts as full now, and why (for `/ready`). */
  status(): { full: boolean; detail?: string }
}

/** After the last SQLITE_FULL, the disk counts as full this long unless the file system shows space again. */
const REMEMBER_MS = 60_000
/** Below this many free bytes in DATA_DIR the next commit is likely to fail (a WAL frame, a page). */
const MIN_FREE_BYTES = 1024 * 1024

/**
 * Built once per process (app/root.ts). The disk counts as full from a failed write on until the
 * data folder has at least MIN_FREE_BYTES free again (statfs, where the runtime has it) or, where
 * statfs cannot say, REMEMBER_MS after the last failure.
 */
export function createDiskWatch(opts: { dataDir?: string; now?: () => number } = {}): DiskWatch {
  const now = opts.now ?? Date.now
  let lastFullAt = 0
  const freeBytes = (): number | undefined => {
    if (!opts.dataDir) return undefined
    try {
      const fs = statfsSync(opts.dataDir)
      return Number(fs.bavail) * Number(fs.bsize)
    } catch {
      return undefined // no statfs on this runtime, or the folder is gone: rely on the last failure
    }
  }
  return {
    noteFull() {
      lastFullAt = now()
    },
    status() {
      if (!lastFullAt) return { full: false }
      const free = freeBytes()
      const recent = now() - lastFullAt < REMEMBER_MS
      if (free === undefined ? !recent : free >= MIN_FREE_BYTES) {
        lastFullAt = 0
        return { full: false }
      }
      const at = new Date(lastFullAt).toISOString()
      return {
        full: true,
        detail:
          `disk full: a write failed with SQLITE_FULL at ${at}` +
          (free === undefined ? '' : `; ${free} bytes free in the data folder`),
      }
    },
  }
}
