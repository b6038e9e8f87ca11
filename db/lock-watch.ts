/**
 * Fail fast while another process holds the database file's write lock (issue 24, ADR 0027).
 *
 * SQLite's driver is synchronous: a write refused for a lock first waits out the busy timeout
 * (5 s) on the thread that runs it. On the server's thread that thread is the one answering every
 * request, so while a backup tool, a `sqlite3` shell or a stuck instance held the lock, each write
 * stalled everything, `/health` included, for 5 s in turn. Once one write has waited the whole
 * timeout and been refused, the lock is known to be held: until a probe sees it gone, writes are
 * refused at once (the same SQLITE_BUSY error, so callers answer 503 `database_unavailable`) instead
 * of each waiting again. Reads never take the write lock (WAL) and are never refused here.
 *
 * The probe is `BEGIN IMMEDIATE` then `ROLLBACK` on a connection of its own with no busy timeout:
 * it answers at once (microseconds, one file-lock attempt), through `exec`, so no refused statement
 * is ever left suspended on it (ADR 0023). It runs before each write while writes are refused (so
 * the first write after the lock goes is taken) and on a timer, so `/ready` and the jobs see the
 * lock gone without a write.
 *
 * The state is two words of shared memory: the transaction thread (db/txn-worker.js) reads it before
 * each transaction and sets it when its own write waited out the timeout, so transactions already
 * sent to it fail fast too rather than each waiting 5 s on that thread.
 */
import Database from 'libsql'

/**
 * Whether a statement failed for want of a lock (SQLITE_BUSY, SQLITE_LOCKED and their extended
 * codes, here or in its cause). SQLite leaves such a statement suspended, to be stepped again, and
 * the driver does not reset it. While it is, its connection counts it as a write under way, and
 * SQLite commits an autocommit write only when the last one under way ends: the next write on
 * that connection takes the write lock and keeps it, uncommitted, and when the suspended statement
 * is at last reset or finalized (by the garbage collector, for the client's statements) SQLite ends
 * it with a rollback of everything since. After another process held the lock, writes were refused
 * until the collector ran and the writes acknowledged meanwhile were lost (issue 24,
 * tests/e2e/faults-db-locked.test.ts). Such a connection is closed rather than used again.
 */
export function lockFailure(error: unknown): boolean {
  let e = error
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code)) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/** The error a refused write gets: the driver's own code, so every caller maps it as it maps a real one. */
export const lockedError = () =>
  Object.assign(new Error('database is locked by another process: writes are refused until it lets go'), {
    code: 'SQLITE_BUSY',
  })

/** Slot 0: 1 while writes are refused. Slot 1: since when (epoch ms). Shared with the transaction thread. */
export type LockState = BigInt64Array

export type LockWatch = {
  /** Throws `lockedError()` at once if the lock is known to be held and a probe says it still is. */
  check(): void
  /**
   * A write ran `waitedMs` and failed with `error`. A lock failure that took at least half the busy
   * timeout means the busy handler waited and gave up: the lock is held by someone, not merely busy
   * (a stale snapshot's upgrade is refused at once, and is not a held lock).
   */
  failed(error: unknown, waitedMs: number): void
  /** Since when writes have been refused (epoch ms), after a probe; undefined when they are not. */
  since(): number | undefined
  /** The shared state, for the transaction thread. */
  state: LockState
  /** Drops the probe's connection (a restore is about to replace the file; the next probe opens one). */
  reset(): void
  close(): void
}

/** How often the timer probes while writes are refused. */
const PROBE_EVERY_MS = 250

export function createLockWatch(opts: {
  path: string
  busyTimeoutMs: number
  now?: () => number
  onChange?: (locked: boolean) => void
}): LockWatch {
  const now = opts.now ?? Date.now
  const state: LockState = new BigInt64Array(new SharedArrayBuffer(16))
  let conn: Database.Database | undefined
  let timer: ReturnType<typeof setInterval> | undefined
  let closed = false
  let reported = false
  const refused = () => Atomics.load(state, 0) === 1n

  const clear = () => {
    Atomics.store(state, 0, 0n)
    Atomics.store(state, 1, 0n)
    if (timer) clearInterval(timer)
    timer = undefined
    if (reported) opts.onChange?.(false)
    reported = false
  }
  const ensureTimer = () => {
    if (!reported) opts.onChange?.(true)
    reported = true
    if (timer || closed) return
    timer = setInterval(() => {
      if (!refused()) clear()
      else probe()
    }, PROBE_EVERY_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }
  /** Clears the state when the lock can be taken now; true when it could. */
  const probe = (): boolean => {
    try {
      if (!conn) {
        conn = new Database(opts.path)
        conn.exec('PRAGMA busy_timeout=0')
      }
      conn.exec('BEGIN IMMEDIATE')
      conn.exec('ROLLBACK')
      clear()
      return true
    } catch (e) {
      if (lockFailure(e)) return false
      // Anything else (the file being swapped by a restore, gone): not a lock; let writes find out.
      conn?.close()
      conn = undefined
      clear()
      return true
    }
  }
  return {
    state,
    check() {
      if (!refused()) return
      ensureTimer() // the transaction thread may have set the state: start probing here
      if (!probe()) throw lockedError()
    },
    failed(error, waitedMs) {
      if (closed || !lockFailure(error) || waitedMs < opts.busyTimeoutMs / 2) return
      if (!refused()) {
        Atomics.store(state, 1, BigInt(Math.round(now())))
        Atomics.store(state, 0, 1n)
      }
      ensureTimer()
    },
    since() {
      if (!refused() || probe()) return undefined
      ensureTimer()
      return Number(Atomics.load(state, 1)) || now()
    },
    reset() {
      conn?.close()
      conn = undefined
    },
    close() {
      closed = true
      if (timer) clearInterval(timer)
      timer = undefined
      conn?.close()
      conn = undefined
    },
  }
}

/**
 * Whether a statement sent through the client writes (so it may wait for the write lock). A plain
 * select never does; a `with` is a read unless it holds an insert, update, delete or replace.
 * Guessing wrong is safe either way: a read taken for a write is refused (503) during a lock, a
 * write taken for a read waits out the busy timeout as before.
 */
export function writesSql(sql: string): boolean {
  if (/^\s*select\b/i.test(sql)) return false
  if (/^\s*with\b/i.test(sql)) return /\b(insert\s+(or\s+\w+\s+)?into|update\s|delete\s+from|replace\s+into)/i.test(sql)
  return true
}
