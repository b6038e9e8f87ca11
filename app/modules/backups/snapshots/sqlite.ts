/**
 * SQLite work on a short-lived worker thread (sqlite-worker.js): a consistent copy of the live
 * database by `VACUUM INTO` then its check, and the check of a restored copy (integrity, row counts,
 * migrations). One thread per snapshot: the copy and its check (ADR 0009).
 */
import { Worker } from 'node:worker_threads'

export type DatabaseFacts = {
  /** `PRAGMA integrity_check` lines other than `ok` (empty when it was not asked for, or all is well). */
  problems: string[]
  rowCounts: Record<string, number>
  schemaVersion: number
  lastMigration: string | null
}

type Job = { op: 'snapshot'; source: string; target: string } | { op: 'inspect'; path: string }

function onThread(job: Job, signal?: AbortSignal, onCopied?: () => void): Promise<DatabaseFacts> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: job })
    let settled = false
    const abort = () => {
      void worker.terminate()
      finish(() => reject(signal?.reason ?? new Error('aborted')))
    }
    const finish = (then: () => void) => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', abort)
      then()
    }
    signal?.addEventListener('abort', abort, { once: true })
    worker.on('message', (m: { copied?: true; ok?: boolean; result?: DatabaseFacts; error?: string }) => {
      if (m.copied) return onCopied?.()
      finish(() => (m.ok ? resolve(m.result!) : reject(new Error(m.error))))
    })
    worker.once('error', (e) => finish(() => reject(e)))
    worker.once('exit', (code) => finish(() => reject(new Error(`the snapshot thread stopped (exit code ${code})`))))
  })
}

/**
 * `VACUUM INTO target` from the database file at `source` (target must not exist). `copied` settles
 * once the copy is whole (the caller may read it from then on); `facts` once the copy has been
 * checked (`PRAGMA integrity_check`, rows per table, migrations) on the same thread.
 */
export function snapshotInto(source: string, target: string, signal?: AbortSignal) {
  let copiedNow: () => void = () => {}
  const copied = new Promise<void>((resolve) => {
    copiedNow = resolve
  })
  const facts = onThread({ op: 'snapshot', source, target }, signal, () => copiedNow())
  // A copy that failed never becomes readable: `copied` rejects with the same error.
  return { copied: Promise.race([copied, facts.then(() => {})]), facts }
}

/** Opens a database file read-only: `PRAGMA integrity_check`, rows per table, migrations applied. */
export const inspectDatabase = (path: string, signal?: AbortSignal) => onThread({ op: 'inspect', path }, signal)
