/**
 * A write transaction that takes the write lock (BEGIN IMMEDIATE) before it reads: what it reads
 * cannot change until it commits, so a write worked out from those rows is never overtaken by
 * another connection's or another instance's commit. The group commit's fresh read after a
 * refusal uses it (app/modules/alerts/intake/lifecycle-batch.ts, ADR 0012); its hot path does not
 * (it checks rows instead, ADR 0002 and 0008, and keeps its SQLite work off this thread).
 *
 * Its own connection to the file, on the calling thread: the reads and writes run synchronously,
 * and the lock is held across the awaits of the work only (the lifecycle's hooks, which answer from
 * their caches). Meanwhile the transaction thread and other processes wait for the lock (busy
 * timeout); one locked transaction at a time per database.
 */
import { Column, is, SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import Database from 'libsql'
import type { LockWatch } from './lock-watch.ts'
import { rowsOf, toStatement, type TxnStatement } from './txn-thread.ts'

/** A query to read under the lock: a Drizzle select, decoded by its `selection` (the columns it selects, in order). */
export type LockedRead = <T>(query: BatchItem<'sqlite'>, selection: Record<string, unknown>) => T[]

/** The work of a locked transaction: reads with `read`, answers the statements to commit and its result. */
export type LockedWork<T> = (read: LockedRead) => Promise<{ statements: TxnStatement[]; result: T }>

export type Locker = {
  /** Runs `work` between BEGIN IMMEDIATE and COMMIT (nothing is written if it or a statement fails). */
  run<T>(work: LockedWork<T>): Promise<T>
  /** While held (a live restore), runs fail as a busy database (503) and the connection is closed. */
  hold(on: boolean): Promise<void>
  close(): void
}

const MAX_PREPARED = 64

export function openLocker(
  path: string,
  options: { pragmas: string[]; onQuery?: (seconds: number) => void; watch?: LockWatch },
): Locker {
  let conn: Database.Database | undefined
  let closed = false
  let held = false
  // One at a time: a second BEGIN on the connection would fail, and the lock is one anyway.
  let queue: Promise<unknown> = Promise.resolve()
  const prepared = new Map<string, Database.Statement>()
  const statementFor = (c: Database.Database, text: string) => {
    let st = prepared.get(text)
    if (!st) {
      if (prepared.size >= MAX_PREPARED) prepared.clear()
      prepared.set(text, (st = c.prepare(text)))
    }
    return st
  }
  const read =
    (c: Database.Database): LockedRead =>
    <T>(query: BatchItem<'sqlite'>, selection: Record<string, unknown>) => {
      const s = toStatement(query)
      const decoders = Object.values(selection).map(decoderOf)
      return (statementFor(c, s.sql).raw(true).all(s.args) as unknown[][]).map((raw) => {
        const row: Record<string, unknown> = {}
        let i = 0
        for (const key of Object.keys(selection)) {
          const v = raw[i]
          row[key] = v === null || v === undefined ? null : decoders[i]!(v)
          i++
        }
        return row as T
      })
    }
  async function once<T>(work: LockedWork<T>): Promise<T> {
    if (closed) throw new Error('The database is closed')
    if (held) throw Object.assign(new Error('The database is being restored'), { code: 'SQLITE_BUSY' })
    if (!conn) {
      conn = new Database(path)
      for (const pragma of options.pragmas) conn.exec(`PRAGMA ${pragma}`)
    }
    const c = conn
    options.watch?.check()
    const start = performance.now()
    try {
      c.exec('BEGIN IMMEDIATE')
    } catch (e) {
      options.watch?.failed(e, performance.now() - start)
      throw e
    }
    try {
      const { statements, result } = await work(read(c))
      for (const s of statements) {
        const st = statementFor(c, s.sql)
        // A statement that returns rows (a check that fails by raising an error) is stepped through.
        if (st.reader) st.raw(true).all(s.args)
        else for (const row of rowsOf(s)) st.run(row)
      }
      c.exec('COMMIT')
      return result
    } catch (e) {
      if (c.inTransaction) c.exec('ROLLBACK')
      throw e
    } finally {
      options.onQuery?.((performance.now() - start) / 1000)
    }
  }
  const shut = () => {
    prepared.clear()
    conn?.close()
    conn = undefined
  }
  return {
    run<T>(work: LockedWork<T>) {
      const turn = queue.then(() => once(work))
      queue = turn.catch(() => {})
      return turn
    },
    async hold(on) {
      held = on
      // The transaction under way (if any) finishes first.
      await queue
      shut()
    },
    close() {
      closed = true
      shut()
    },
  }
}

/** How a selected value is read back: a column's own mapping, an SQL expression's `mapWith`, else as stored. */
function decoderOf(v: unknown): (x: unknown) => unknown {
  if (is(v, Column)) return (x) => v.mapFromDriverValue(x)
  // An expression's `mapWith` decoder is kept on it (not in Drizzle's declared type; its own row mapping reads it).
  const decoder = is(v, SQL)
    ? (v as unknown as { decoder?: { mapFromDriverValue(x: unknown): unknown } }).decoder
    : undefined
  return decoder ? (x) => decoder.mapFromDriverValue(x) : (x) => x
}
