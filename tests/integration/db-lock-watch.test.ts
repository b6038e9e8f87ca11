/**
 * Failing fast while another process holds the database file's write lock (db/lock-watch.ts,
 * ADR 0027), on a real file with a second connection of the test's own holding the lock. The first
 * write to find the lock waits out the busy timeout (5 s) and is refused by the driver; from then on
 * every write path (the client, the writer, the transaction thread, the locker) is refused by the
 * watch itself, without reaching SQLite, which its message tells apart from the driver's. Reads
 * keep working; the jobs let their ticks go; once the lock goes the next write is taken.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'libsql'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import { createScheduler } from '../../app/lib/scheduler.ts'
import { lockerOf, openDb, readRows, type Db, writeLockHeldSince, writeNow, writeTransaction } from '../../db/client.ts'
import { createLockWatch, lockFailure, writesSql } from '../../db/lock-watch.ts'
import { runMigrations } from '../../db/migrate.ts'
import type { Client } from '@libsql/client'

const REFUSED = /locked by another process: writes are refused/
let dir: string
let path: string
let db: Db
let client: Client
let held: Database.Database | undefined

/** Another process's lock: BEGIN EXCLUSIVE and a write, on a connection of the test's own. */
function lockFile() {
  held = new Database(path)
  held.exec('PRAGMA busy_timeout=10000')
  held.exec('BEGIN EXCLUSIVE')
  held.exec('CREATE TABLE other_process (x)')
}
function releaseFile() {
  held?.exec('ROLLBACK')
  held?.close()
  held = undefined
}
/** What a promise was refused with (or that it was not). */
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => ({ ok: true as const, message: '', busy: false }),
    (e: unknown) => ({ ok: false as const, message: String((e as Error)?.message), busy: lockFailure(e) }),
  )

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homeostat-lock-'))
  path = join(dir, 'lock.db')
  ;({ db, client } = await openDb({ url: `file:${path}` }))
  await runMigrations(db)
  await client.execute('create table t (id integer primary key, v text)')
  await client.execute("insert into t (v) values ('before')")
})
afterEach(() => {
  releaseFile()
  client.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('writes while another process holds the write lock', () => {
  it('waits out the busy timeout once, then refuses every write path at once, keeps reads, resumes', async () => {
    lockFile()
    expect(writeLockHeldSince(db)).toBeUndefined()
    // The first write finds the lock the slow way: the driver's own refusal, after its busy timeout.
    const first = await refusal(client.execute("insert into t (v) values ('first')"))
    expect(first.busy).toBe(true)
    expect(first.message).not.toMatch(REFUSED)
    expect(writeLockHeldSince(db)).toBeGreaterThan(0)

    // From now on each write path is refused by the watch, before SQLite is asked.
    const paths = {
      client: refusal(client.execute("insert into t (v) values ('client')")),
      batch: refusal(client.batch(["insert into t (v) values ('batch')"], 'write')),
      writer: refusal(writeNow(db, [{ sql: "insert into t (v) values ('writer')", args: [] }])),
      thread: refusal(writeTransaction(db, [{ sql: "insert into t (v) values ('thread')", args: [] }])),
      locker: refusal(lockerOf(db)!.run(async () => ({ statements: [], result: 1 }))),
    }
    for (const [name, p] of Object.entries(paths)) {
      const r = await p
      expect(r.ok, name).toBe(false)
      expect(r.busy, name).toBe(true)
      expect(r.message, name).toMatch(REFUSED)
    }
    // Reads never take the write lock (WAL): on the reader, the client and the writer's connection.
    expect((await client.execute('select count(*) as n from t')).rows[0]?.n).toBe(1)
    expect((await client.execute({ sql: 'select v from t where id = ?', args: [1] })).rows[0]?.v).toBe('before')
    expect(await readRows(db, 'select v from t where id = ?', [1])).toEqual([['before']])
    // A read batch is not a write either.
    expect((await client.batch(['select v from t'], 'read'))[0]?.rows.length).toBe(1)

    releaseFile()
    // The probe before the next write sees the lock gone: taken at the first try, on every path.
    await client.execute("insert into t (v) values ('after')")
    await writeNow(db, [{ sql: "insert into t (v) values ('writer after')", args: [] }])
    await writeTransaction(db, [{ sql: "insert into t (v) values ('thread after')", args: [] }])
    expect(writeLockHeldSince(db)).toBeUndefined()
    const rows = (await client.execute('select v from t order by id')).rows.map((r) => r.v)
    expect(rows).toEqual(['before', 'after', 'writer after', 'thread after'])
  }, 60_000)

  it('finds the lock on the transaction thread too, and refuses the client then', async () => {
    lockFile()
    const first = await refusal(writeTransaction(db, [{ sql: "insert into t (v) values ('thread')", args: [] }]))
    expect(first.busy).toBe(true)
    expect(first.message).not.toMatch(REFUSED)
    // The thread set the shared state: the client's next write is refused without waiting.
    const next = await refusal(client.execute("insert into t (v) values ('client')"))
    expect(next.message).toMatch(REFUSED)
    releaseFile()
    await client.execute("insert into t (v) values ('client after')")
    expect((await client.execute('select count(*) as n from t')).rows[0]?.n).toBe(2)
  }, 60_000)

  it('lets job ticks go without claiming them while the lock is held, and runs them after', async () => {
    const scheduler = createScheduler({ db, log: createLogger('silent') })
    let ran = 0
    scheduler.register({
      name: 'probe',
      schedule: '* * * * * *',
      handler: async () => {
        ran++
      },
    })
    lockFile()
    // The first tick's claim finds the lock (after the busy timeout): let go, not crashed.
    expect(await scheduler.runTick('probe', 1000)).toBe('locked')
    // The next is let go before its lease write is even tried.
    expect(await scheduler.runTick('probe', 2000)).toBe('locked')
    expect(ran).toBe(0)
    releaseFile()
    expect(await scheduler.runTick('probe', 3000)).toBe('ran')
    expect(ran).toBe(1)
  }, 60_000)
})

describe('the lock watch', () => {
  it('trips only on a lock failure that waited out the busy timeout, and clears when the probe can lock', () => {
    const watch = createLockWatch({ path, busyTimeoutMs: 5000 })
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    try {
      lockFile()
      // A refusal at once (a stale snapshot's upgrade, a restore's hold) is not a held lock.
      watch.failed(busy, 10)
      expect(() => watch.check()).not.toThrow()
      // Nor is another error after a long wait.
      watch.failed(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }), 6000)
      expect(() => watch.check()).not.toThrow()
      watch.failed(busy, 5000)
      expect(() => watch.check()).toThrow(REFUSED)
      expect(watch.since()).toBeGreaterThan(0)
      releaseFile()
      expect(() => watch.check()).not.toThrow()
      expect(watch.since()).toBeUndefined()
    } finally {
      watch.close()
    }
  })

  it('reports each episode once, not each refusal', () => {
    const changes: boolean[] = []
    const watch = createLockWatch({ path, busyTimeoutMs: 5000, onChange: (locked) => changes.push(locked) })
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    try {
      lockFile()
      watch.failed(busy, 5000)
      for (let i = 0; i < 3; i++) expect(() => watch.check()).toThrow(REFUSED)
      releaseFile()
      watch.check()
      expect(changes).toEqual([true, false])
    } finally {
      watch.close()
    }
  })

  it('tells statements that may write from reads', () => {
    expect(writesSql('select 1')).toBe(false)
    expect(writesSql('  SELECT * from t')).toBe(false)
    expect(writesSql('with x as (select 1) select * from x')).toBe(false)
    expect(writesSql('with x as (select 1) insert into t select * from x')).toBe(true)
    expect(writesSql('with x as (select 1) delete from t where id in x')).toBe(true)
    expect(writesSql('insert into t values (1)')).toBe(true)
    expect(writesSql('update t set v = 1')).toBe(true)
    expect(writesSql('PRAGMA incremental_vacuum')).toBe(true)
  })
})
