/**
 * Write transactions on a thread of their own. A local database file gets a worker thread with
 * its own connection (db/txn-worker.js); `writeTransaction` sends it a whole transaction (SQL
 * texts and arguments) and resolves once it is committed, so SQLite's work (the statements, the
 * commit, WAL checkpoints) runs beside the thread that parses requests instead of on it. The
 * alerts' group commit uses it, since SQLite's work is much of the alert intake's (docs/adr/0001).
 * Anything else (`:memory:`, a remote database) runs the same statements as one batch on the client.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads'
import type { InArgs, InStatement } from '@libsql/client'
import type { BatchItem } from 'drizzle-orm/batch'
import type { LockWatch } from './lock-watch.ts'

type Arg = string | number | bigint | null | Uint8Array
/**
 * A statement with its arguments, or run once per row of `rows` (then `args` is unused): an array,
 * or its JSON text when every value is a string, a finite number or null (a text is copied to the
 * thread faster than the arrays of values it holds).
 */
export type TxnStatement = { sql: string; args: Arg[]; rows?: Arg[][] | string }

/**
 * `run(statements, epoch, fallback)`: a transaction made from a cache of the database that was right
 * as of `epoch` (see `epoch()`) is refused (an error with code `STALE_EPOCH`, nothing written) when
 * the thread has since seen another connection commit, or a transaction of its own roll back;
 * unless it comes with a `fallback`: a check of everything the epoch vouched for, run first in the
 * transaction instead (it fails the transaction if any of it changed). A commit elsewhere that
 * changed none of it (a job's lease row, a metric) then costs a check, not the transaction.
 * `epoch()`: the latest epoch the thread has answered with.
 */
export type TransactionThread = {
  run(statements: TxnStatement[], epoch?: number, fallback?: TxnStatement): Promise<void>
  /**
   * Runs one read (no transaction of its own) behind the transactions sent before it, and answers
   * its rows as arrays of values: the thread's connection is the one that writes, so its page cache
   * stays warm, where another connection's is emptied by each commit of the thread (ADR 0013).
   */
  read(sql: string, args: Arg[]): Promise<Arg[][]>
  epoch(): number
  close(): void
  /** Waits for the transactions sent to finish, then stops the thread; the next `run` starts a new one. */
  reset(): Promise<void>
}

type Pending = { resolve: (rows?: Arg[][]) => void; reject: (e: Error) => void; start: number }

/** Starts the thread for the database file at `path`; its connection takes `pragmas` (the other connections' settings). */
export function openTransactionThread(
  path: string,
  options: { pragmas: string[]; onQuery?: (seconds: number) => void; watch?: LockWatch },
): TransactionThread {
  const watch = options.watch
  let worker: Worker | undefined
  let closed = false
  let next = 0
  let epoch = 0
  const pending = new Map<number, Pending>()
  // A thread that died fails what it had not answered (the callers apply their work again from a
  // fresh read); the next transaction starts a new one.
  const fail = (w: Worker, e: Error) => {
    if (worker === w) worker = undefined
    for (const p of pending.values()) p.reject(e)
    pending.clear()
  }
  const start = () => {
    // Bun's `smol`: the thread's heap is collected early and kept small (it only ever holds the
    // statements in hand; a default heap grew large under intake). Node and Deno ignore it.
    // A new thread has seen nothing yet: it starts past every epoch answered so far.
    const settings: WorkerOptions & { smol?: boolean } = {
      workerData: { path, pragmas: options.pragmas, epoch: epoch + 1, lock: watch?.state },
      smol: true,
    }
    const w = new Worker(new URL('./txn-worker.js', import.meta.url), settings)
    type Reply = {
      id: number
      epoch: number
      rows?: Arg[][]
      error?: { message: string; code?: string }
      waitedMs?: number
    }
    w.on('message', (m: Reply) => {
      if (m.epoch > epoch) epoch = m.epoch
      const p = pending.get(m.id)
      if (!p) return
      pending.delete(m.id)
      if (!pending.size) w.unref()
      options.onQuery?.((performance.now() - p.start) / 1000)
      // The thread sets the shared lock state itself when its write waited out the timeout; this
      // starts the probing that clears it.
      if (m.error && m.waitedMs !== undefined) watch?.failed(m.error, m.waitedMs)
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }))
      else p.resolve(m.rows)
    })
    w.on('error', (e) => fail(w, e instanceof Error ? e : new Error(String(e))))
    w.on('exit', (code) => fail(w, new Error(`the database's transaction thread stopped (exit code ${code})`)))
    w.unref()
    return w
  }
  return {
    epoch: () => epoch,
    run(statements, assumed, fallback) {
      if (closed) return Promise.reject(new Error('The database is closed'))
      try {
        watch?.check()
      } catch (e) {
        return Promise.reject(e)
      }
      const w = (worker ??= start())
      const id = ++next
      return new Promise<void>((resolve, reject) => {
        pending.set(id, { resolve: () => resolve(), reject, start: performance.now() })
        // Held open while a transaction is under way (a script must not exit before its commit).
        w.ref()
        w.postMessage({ id, statements, epoch: assumed, fallback })
      })
    },
    read(sql, args) {
      if (closed) return Promise.reject(new Error('The database is closed'))
      const w = (worker ??= start())
      const id = ++next
      return new Promise<Arg[][]>((resolve, reject) => {
        pending.set(id, { resolve: (rows) => resolve(rows ?? []), reject, start: performance.now() })
        w.ref()
        w.postMessage({ id, read: { sql, args } })
      })
    },
    async reset() {
      const deadline = Date.now() + 30_000
      while (pending.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
      const w = worker
      worker = undefined
      if (w) await w.terminate()
    },
    close() {
      // Transactions already sent are finished first: the thread reads its messages in order.
      worker?.postMessage({ close: true })
      closed = true
    },
  }
}

const driverValue = (v: unknown): TxnStatement['args'][number] =>
  typeof v === 'boolean' ? (v ? 1 : 0) : v instanceof Date ? v.valueOf() : ((v as TxnStatement['args'][number]) ?? null)

/** A Drizzle query (a builder or `db.run(sql)`) as SQL text and arguments. */
export function toStatement(item: BatchItem<'sqlite'> | TxnStatement): TxnStatement {
  if ('args' in item && typeof item.sql === 'string') return item
  const q =
    'getQuery' in item && typeof item.getQuery === 'function'
      ? (item.getQuery() as { sql: string; params: unknown[] })
      : (item as unknown as { toSQL(): { sql: string; params: unknown[] } }).toSQL()
  return { sql: q.sql, args: q.params.map(driverValue) }
}

/** The same statements as one write batch on a client (no thread). */
export const asInStatements = (statements: TxnStatement[]): InStatement[] =>
  statements.flatMap((s) => rowsOf(s).map((args) => ({ sql: s.sql, args: args as InArgs })))
/** The argument rows a statement runs with (one, or those of `rows`). */
export const rowsOf = (s: TxnStatement): Arg[][] =>
  typeof s.rows === 'string' ? (JSON.parse(s.rows) as Arg[][]) : (s.rows ?? [s.args])
