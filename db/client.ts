import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { createClient, type Client, type InStatement, type TransactionMode } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import type { BatchItem } from 'drizzle-orm/batch'
import Database from 'libsql'
import { createLockWatch, lockFailure, writesSql, type LockWatch } from './lock-watch.ts'
import { openLocker, type Locker } from './locked-txn.ts'
import { openReader, type Reader } from './reader.ts'
import * as schema from './schema/index.ts'
import {
  asInStatements,
  openTransactionThread,
  toStatement,
  type TransactionThread,
  type TxnStatement,
} from './txn-thread.ts'

export { lockFailure } from './lock-watch.ts'

export type DbOptions = {
  url: string
  authToken?: string
  syncUrl?: string
  syncIntervalSeconds?: number
  /** `normal` (default): a commit survives a crash of the process, fsync at checkpoints. `full`: fsync every commit. */
  synchronous?: 'normal' | 'full'
  /** Called with the duration of every statement or batch, in seconds. */
  onQuery?: (seconds: number) => void
  /** Called when writes start being refused because another process holds the write lock, and when they resume. */
  onLockChange?: (locked: boolean) => void
}

/**
 * Each connection's page cache, in KB (ADR 0026). A filled cache costs its size in RSS for good (the
 * allocator keeps the pages after SQLite lets them go), and SQLite drops a connection's whole cache
 * whenever another connection has committed, so under ingest (an inbox commit a request) a cache only
 * serves the statements of one burst. The client and the reader had 16 MB each, both filled by a
 * backfill (≈ 33 MB of malloc heap); the transaction thread keeps 16 MB for the alert intake's reads of
 * alerts it has not cached, between its own commits (ADR 0013). The writer and the locker keep
 * SQLite's default (2 MB).
 */
export const PAGE_CACHE_KB = { client: 4096, reader: 4096, thread: 16_384 } as const

/**
 * The settings every connection to a local file takes (the client, the writer, the transaction
 * thread): they are per connection in SQLite. Checkpoints every 8 000 pages (32 MB of WAL), not
 * 1 000: under a steady write load (the alert intake) fewer, larger checkpoints cut the time
 * commits spend in them by about a quarter, and whichever connection commits past the mark runs it.
 */
const BUSY_TIMEOUT_MS = 5000
const connectionPragmas = (options: DbOptions, cacheKb?: number) => [
  `busy_timeout=${BUSY_TIMEOUT_MS}`,
  'foreign_keys=ON',
  `synchronous=${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`,
  'wal_autocheckpoint=8000',
  ...(cacheKb ? [`cache_size=-${cacheKb}`] : []),
]

/**
 * Opens libSQL: `file:` (WAL, busy timeout, foreign keys on), `:memory:`, `libsql://` / `https://`
 * (Turso or sqld, with an auth token), or an embedded replica of a remote database (`syncUrl`).
 */
export async function openDb(options: DbOptions) {
  const isFile = options.url.startsWith('file:')
  if (isFile) {
    const path = options.url.slice('file:'.length).split('?')[0]!
    if (path && path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  }
  const connect = () =>
    createClient({
      url: options.url,
      authToken: options.authToken,
      syncUrl: options.syncUrl,
      syncInterval: options.syncUrl ? options.syncIntervalSeconds : undefined,
      timeout: BUSY_TIMEOUT_MS, // busy timeout on every local connection
      // One connection: statements run synchronously in-process anyway, and per-connection pragmas
      // (synchronous) then hold for every statement. Writes are batches, never held transactions.
      concurrency: isFile ? 1 : undefined,
      intMode: 'number',
    })
  // The settings of one connection (they are per connection in SQLite); none of them touches the file.
  const settle = async (raw: Client) => {
    for (const pragma of connectionPragmas(options, PAGE_CACHE_KB.client)) await raw.execute(`PRAGMA ${pragma}`)
  }
  const prepare = async (raw: Client) => {
    if (!isFile) return
    // Incremental vacuum lets the retention job return freed pages. It can only be chosen while
    // the file is empty (before the first migration).
    const tables = await raw.execute('select count(*) as n from sqlite_master')
    if (Number(tables.rows[0]?.n ?? 0) === 0) await raw.execute('PRAGMA auto_vacuum=INCREMENTAL')
    await raw.execute('PRAGMA journal_mode=WAL')
    await settle(raw)
  }
  const holder: Holder = {
    client: connect(),
    gate: null,
    // The client's connection is never used again after a statement on it failed for want of a lock
    // (see `lockFailure`): a new one takes its place before the next statement runs.
    async renew() {
      const old = holder.client
      holder.client = connect()
      old.close()
      await settle(holder.client)
    },
    reader: undefined,
  }
  await prepare(holder.client)
  if (options.syncUrl) await holder.client.sync()
  // A local file (not an embedded replica, whose writes go to the primary) gets a second
  // connection with prepared statements kept for the hot inserts; closing the client closes it.
  const path = isFile && !options.syncUrl ? options.url.slice('file:'.length).split('?')[0]! : ''
  // Another process can hold a local file's write lock: every connection below fails fast while it does.
  const watch =
    path && path !== ':memory:'
      ? createLockWatch({ path, busyTimeoutMs: BUSY_TIMEOUT_MS, onChange: options.onLockChange })
      : undefined
  const raw = isFile ? gated(holder, watch) : holder.client
  const timedClient = options.onQuery ? timed(raw, options.onQuery) : raw
  const writer = watch ? openWriter(path, options, watch) : undefined
  // Reads through the client (every Drizzle select) run on a connection of their own with kept statements.
  const reader = writer ? openReader(path, { pragmas: connectionPragmas(options, PAGE_CACHE_KB.reader) }) : undefined
  holder.reader = reader
  const thread = writer
    ? openTransactionThread(path, {
        pragmas: connectionPragmas(options, PAGE_CACHE_KB.thread),
        onQuery: options.onQuery,
        watch,
      })
    : undefined
  const locker = writer
    ? openLocker(path, { pragmas: connectionPragmas(options), onQuery: options.onQuery, watch })
    : undefined
  const client = writer
    ? withClose(timedClient, () => {
        writer.close()
        reader?.close()
        locker?.close()
        thread?.close()
        watch?.close()
      })
    : timedClient
  // Closes every connection to the file, lets `swap` replace the file, and opens them again on
  // whatever is at the path then (a live restore). Statements sent through the client meanwhile
  // wait and then run on the new connections; transactions already on the thread finish first.
  const reopen = writer
    ? async (swap: () => void | Promise<void>) => {
        let release = () => {}
        holder.gate = new Promise<void>((resolve) => (release = resolve))
        try {
          await thread?.reset()
          await locker?.hold(true)
          writer.hold(true)
          reader?.hold(true)
          watch?.reset()
          holder.client.close()
          try {
            await swap()
          } finally {
            holder.client = connect()
            writer.hold(false)
            reader?.hold(false)
            await locker?.hold(false)
            await prepare(holder.client)
          }
        } finally {
          holder.gate = null
          release()
        }
      }
    : undefined
  const db = withLocal(drizzle(client, { schema }), { writer, thread, locker, reopen, watch })
  return { client, db }
}

export type Db = Awaited<ReturnType<typeof openDb>>['db']

export type WriteStatement = { sql: string; args: (number | string | Uint8Array | null)[] }
/** Runs statements in one transaction on the writer's connection, each prepared once per SQL text. */
export type Writer = {
  /** The rows each statement changed. */
  write(statements: WriteStatement[]): number[]
  /** The rows of one read as arrays of column values (no row objects), on the same connection. */
  read(sql: string, args: (number | string)[]): unknown[][]
  close(): void
  /** While held, writes fail as a busy database (503) and the connection is closed; after, it reopens. */
  hold(on: boolean): void
}

// The connections a database opened on a local file has beside its client, carried by the db
// object itself under a key only this file knows: whoever holds the db reaches them through the
// functions below, and they go away with it.
const local = Symbol('local connections')
type LocalConnections = {
  writer?: Writer
  thread?: TransactionThread
  locker?: Locker
  reopen?: (swap: () => void | Promise<void>) => Promise<void>
  watch?: LockWatch
}
const withLocal = <T extends object>(db: T, connections: LocalConnections) =>
  Object.assign(db, { [local]: connections }) as T & { readonly [local]?: LocalConnections }

/**
 * Runs statements as one write transaction (BEGIN IMMEDIATE … COMMIT) and resolves once it is
 * committed: on the database's transaction thread for a local file (db/txn-thread.ts), else as
 * one batch on the client. Nothing is written if one fails. `epoch`: the transaction was made from
 * a cache right as of that `transactionEpoch`; on the thread it is refused (code `STALE_EPOCH`)
 * once anything may have changed since, unless `fallback` (a check of what the epoch vouched for)
 * is given: that check then runs first in the transaction instead (see `TransactionThread`).
 */
export async function writeTransaction(
  db: Db,
  items: (BatchItem<'sqlite'> | TxnStatement)[],
  epoch?: number,
  fallback?: TxnStatement,
): Promise<void> {
  const statements = items.map(toStatement)
  const thread = db[local]?.thread
  if (thread) await thread.run(statements, epoch, fallback)
  else await db.$client.batch(asInStatements(statements), 'write')
}

/**
 * Runs statements as one write transaction (BEGIN IMMEDIATE … COMMIT) on the client's connection,
 * never on the transaction thread. For a write whose first statement reads (a guard comparing the
 * row as read earlier): in a deferred batch that read takes a snapshot, and upgrading it to a write
 * once another process has committed fails at once with SQLITE_BUSY (the busy timeout is not
 * waited for), which two instances on one file hit under load; IMMEDIATE takes the write lock first,
 * waiting for it. Off the thread on purpose: a commit of this connection moves the thread's epoch,
 * so a group commit worked out from a cache before it is refused rather than written over it.
 */
export async function clientWriteTransaction(db: Db, items: BatchItem<'sqlite'>[]): Promise<void> {
  await db.$client.batch(asInStatements(items.map(toStatement)), 'write')
}

/**
 * A read on the database's transaction thread (see `TransactionThread.read`): rows as arrays of
 * driver values, behind the transactions sent before it. Undefined without a thread (`:memory:`, a
 * remote database): the caller reads on the client.
 */
export const threadReader = (db: Db) => {
  const thread = db[local]?.thread
  return thread && ((sql: string, args: (string | number | null)[]) => thread.read(sql, args))
}

/**
 * The locked transactions of a database opened on a local file (db/locked-txn.ts): BEGIN IMMEDIATE
 * first, then the reads and the writes, so nothing read can change before the commit. Undefined
 * without a local file (`:memory:`, a remote database), where the caller's row checks stay the guard.
 * A commit here moves the transaction thread's epoch, as any other connection's does.
 */
export const lockerOf = (db: Db): Locker | undefined => db[local]?.locker

/**
 * Since when (epoch ms) writes to a database on a local file have been refused at once because
 * another process holds its write lock (db/lock-watch.ts), checked by a probe now; undefined when
 * they are not, or the database is not a local file. For `/ready` and the jobs' ticks.
 */
export const writeLockHeldSince = (db: Db): number | undefined => db[local]?.watch?.since()

/**
 * The epoch of a database's transaction thread (see `writeTransaction`): what was read or written
 * as of it needs no check in a transaction sent with it. Undefined without a thread (`:memory:`,
 * a remote database), where every cached row is checked.
 */
export const transactionEpoch = (db: Db): number | undefined => db[local]?.thread?.epoch()

/**
 * The prepared-statement writer of a database opened on a local file, if any. @libsql/client
 * prepares every statement anew (≈ 0.8 µs a row for a 1 000-row insert, more than running it);
 * this keeps them. Callers should use a bounded set of SQL texts (e.g. power-of-two row counts).
 */
export const writerOf = (db: Db): Writer | undefined => db[local]?.writer

/**
 * The rows of a read as arrays of column values, in the select's column order. @libsql/client
 * turns every row into an object with a named and an indexed property per column (≈ 10 µs a row of
 * ten columns, more than SQLite's read of it); a read of hundreds of thousands of rollup rows (a
 * fleet query) wants the values only. On a local file it runs on the writer's connection with a
 * kept statement in raw mode; elsewhere (`:memory:`, remote) through the client. Parameterised.
 */
export async function readRows(db: Db, sql: string, args: (number | string)[]): Promise<unknown[][]> {
  const writer = db[local]?.writer
  if (writer) return writer.read(sql, args)
  const rs = await db.$client.execute({ sql, args })
  return rs.rows.map((r) => Array.from(r))
}

/**
 * Runs a few small statements as one write transaction and answers the rows each changed: on a
 * local file synchronously on the writer's connection with kept statements (no query building, no
 * prepare, no round trip through the client's batch), elsewhere as one write batch on the client.
 * For hot paths with fixed SQL texts (a heartbeat's status row); parameterised.
 */
export async function writeNow(db: Db, statements: WriteStatement[]): Promise<number[]> {
  const writer = db[local]?.writer
  if (writer) return writer.write(statements)
  const results = await db.$client.batch(statements as InStatement[], 'write')
  return results.map((r) => r.rowsAffected)
}

const MAX_CACHED_STATEMENTS = 128

/**
 * A second connection to the same file (WAL: readers of the first are never blocked by it), with
 * the same pragmas. Its writes run synchronously from BEGIN IMMEDIATE to COMMIT, as the client's
 * batches do, so the two connections never hold a write lock across an await; a lock held by
 * another process is waited for by the busy timeout, as on the first connection.
 */
function openWriter(path: string, options: DbOptions, watch: LockWatch): Writer {
  let conn: Database.Database | undefined
  let closed = false
  let held = false
  const prepared = new Map<string, Database.Statement>()
  const open = () => {
    const c = new Database(path)
    for (const pragma of connectionPragmas(options)) c.exec(`PRAGMA ${pragma}`)
    // Inbox inserts append to a few pages: SQLite's default 2 MB cache is plenty here.
    return c
  }
  const statementFor = (c: Database.Database, text: string) => {
    let st = prepared.get(text)
    if (!st) {
      if (prepared.size >= MAX_CACHED_STATEMENTS) prepared.clear()
      prepared.set(text, (st = c.prepare(text)))
    }
    return st
  }
  // A statement that failed for want of a lock stays suspended in `prepared` (see `lockFailure`):
  // the connection and its statements are let go at once, and the next call opens a new one.
  const drop = () => {
    prepared.clear()
    conn?.close()
    conn = undefined
  }
  return {
    write(statements) {
      if (!statements.length) return []
      if (closed) throw new Error('The database is closed')
      if (held) throw Object.assign(new Error('The database is being restored'), { code: 'SQLITE_BUSY' })
      watch.check()
      const start = performance.now()
      const c = (conn ??= open())
      try {
        if (statements.length === 1) return [statementFor(c, statements[0]!.sql).run(statements[0]!.args).changes]
        c.exec('BEGIN IMMEDIATE')
        try {
          const changes = statements.map((s) => statementFor(c, s.sql).run(s.args).changes)
          c.exec('COMMIT')
          return changes
        } catch (e) {
          if (c.inTransaction) c.exec('ROLLBACK')
          throw e
        }
      } catch (e) {
        if (lockFailure(e)) drop()
        watch.failed(e, performance.now() - start)
        throw e
      } finally {
        options.onQuery?.((performance.now() - start) / 1000)
      }
    },
    read(sql, args) {
      if (closed) throw new Error('The database is closed')
      if (held) throw Object.assign(new Error('The database is being restored'), { code: 'SQLITE_BUSY' })
      const start = performance.now()
      try {
        return statementFor((conn ??= open()), sql)
          .raw(true)
          .all(args) as unknown[][]
      } catch (e) {
        if (lockFailure(e)) drop()
        throw e
      } finally {
        options.onQuery?.((performance.now() - start) / 1000)
      }
    },
    close() {
      closed = true
      drop()
    },
    hold(on) {
      held = on
      drop()
    },
  }
}

function withClose(client: Client, also: () => void): Client {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'close')
        return () => {
          also()
          target.close()
        }
      const value = Reflect.get(target, prop)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

type Holder = { client: Client; gate: Promise<void> | null; renew: () => Promise<void>; reader: Reader | undefined }

/**
 * The client of `holder`, whichever it is now; while a gate is set, statements wait for it first.
 * One statement (or batch) at a time, in the order sent: each runs synchronously on the one
 * connection anyway, and so none can be handed the connection between a lock failure and its
 * replacement (see `lockFailure`).
 */
function gated(holder: Holder, watch?: LockWatch): Client {
  let tail: Promise<unknown> = Promise.resolve()
  // `writes`: the statement may take the write lock, so it is refused at once while another process
  // is known to hold it (db/lock-watch.ts), and a refusal after waiting out the busy timeout says so.
  const run = <T>(f: (c: Client) => Promise<T>, writes = true): Promise<T> => {
    const turn = tail.then(async () => {
      if (holder.gate) await holder.gate
      if (writes) watch?.check()
      const start = performance.now()
      try {
        return await f(holder.client)
      } catch (error) {
        if (writes) watch?.failed(error, performance.now() - start)
        if (lockFailure(error)) await holder.renew()
        throw error
      }
    })
    tail = turn.catch(() => {})
    return turn
  }
  const sqlOf = (stmt: InStatement) => (typeof stmt === 'string' ? stmt : stmt.sql)
  return {
    execute: ((stmt: InStatement, args?: never) => {
      // A select with positional arguments, while no restore holds the file: on the reader.
      const fast = !holder.gate && args === undefined ? holder.reader?.execute(stmt) : undefined
      return fast ? Promise.resolve(fast) : run((c) => c.execute(stmt as never, args), writesSql(sqlOf(stmt)))
    }) as Client['execute'],
    batch: ((stmts: InStatement[], mode?: TransactionMode) =>
      run((c) => c.batch(stmts, mode as never), mode !== 'read')) as Client['batch'],
    migrate: (stmts) => run((c) => c.migrate(stmts)),
    transaction: ((mode?: TransactionMode) =>
      run((c) => c.transaction(mode), mode !== 'read')) as Client['transaction'],
    executeMultiple: (text) => run((c) => c.executeMultiple(text)),
    sync: () => run((c) => c.sync()),
    reconnect: () => holder.client.reconnect(),
    close: () => holder.client.close(),
    get closed() {
      return holder.client.closed
    },
    get protocol() {
      return holder.client.protocol
    },
  }
}

/**
 * Replaces a local database file under a running server: closes its connections, runs `swap`
 * (which moves files), and opens them again. Undefined when the database is not a local file.
 */
export const reopenerOf = (db: Db) => db[local]?.reopen

/** Wraps the client so every statement's duration is observed (for /metrics). */
function timed(client: Client, observe: (seconds: number) => void): Client {
  const time = <T>(run: () => Promise<T>) => {
    const start = performance.now()
    return run().finally(() => observe((performance.now() - start) / 1000))
  }
  return {
    execute: ((stmt: InStatement, args?: never) =>
      time(() => client.execute(stmt as never, args))) as Client['execute'],
    batch: ((stmts: InStatement[], mode?: never) => time(() => client.batch(stmts, mode))) as Client['batch'],
    migrate: (stmts) => time(() => client.migrate(stmts)),
    transaction: ((mode?: TransactionMode) => client.transaction(mode)) as Client['transaction'],
    executeMultiple: (text) => time(() => client.executeMultiple(text)),
    sync: () => client.sync(),
    reconnect: () => client.reconnect(),
    close: () => client.close(),
    get closed() {
      return client.closed
    },
    get protocol() {
      return client.protocol
    },
  }
}
