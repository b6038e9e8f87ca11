/**
 * `writeTransaction` (db/client.ts): for a local file, the transaction runs on the database's own
 * thread (db/txn-thread.ts) with its own connection; otherwise as one batch on the client. Either
 * way a transaction is all or nothing, its error reaches the caller, and once it resolves the
 * client's next read sees it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { blob, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { insertRowsOf } from '../../app/modules/alerts/intake/batch-statements.ts'
import { isStaleCache } from '../../app/modules/alerts/intake/alert-cache.ts'
import { openDb, transactionEpoch, writeTransaction, type Db } from '../../db/client.ts'

const dir = mkdtempSync(join(tmpdir(), 'homeostat-txn-'))
const opened: { client: { close(): void } }[] = []
afterAll(() => {
  for (const o of opened) o.client.close()
  rmSync(dir, { recursive: true, force: true })
})

async function open(url: string) {
  const o = await openDb({ url })
  opened.push(o)
  await o.db.run(sql`create table t (id integer primary key, v text not null unique)`)
  return o.db
}
const values = async (db: Db) => (await db.all<{ v: string }>(sql`select v from t order by id`)).map((r) => r.v)

describe.each([
  ['a local file (the transaction thread)', () => open(`file:${join(dir, 'thread.db')}`)],
  ['an in-memory database (one batch on the client)', () => open(':memory:')],
])('writeTransaction on %s', (_, make) => {
  let db: Db
  it('commits every statement, rows one by one included, and the next read sees them', async () => {
    db = await make()
    await writeTransaction(db, [
      { sql: 'insert into t (v) values (?)', args: ['a'] },
      { sql: 'insert into t (v) values (?)', args: [], rows: [['b'], ['c']] },
      db.run(sql`insert into t (v) values (${'d'})`),
    ])
    expect(await values(db)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('takes rows as their JSON text too, and insertRowsOf sends arrays when a value has no JSON form', async () => {
    const other = db
    await other.run(sql`create table w (id integer primary key, name text, n real, b blob)`)
    const w = sqliteTable('w', { id: integer('id').primaryKey(), name: text('name'), n: real('n'), b: blob('b') })
    const asText = insertRowsOf(
      w,
      ['id', 'name', 'n'],
      [
        { id: 1, name: 'x "quoted" ✓', n: 1.5 },
        { id: 2, name: null, n: -3 },
      ],
    )
    expect(typeof asText.rows).toBe('string')
    const withBlob = insertRowsOf(w, ['id', 'b'], [{ id: 3, b: Buffer.from([1, 2, 255]) }])
    expect(Array.isArray(withBlob.rows)).toBe(true)
    await writeTransaction(other, [asText, withBlob])
    const rows = await other.all<{
      id: number
      name: string | null
      n: number | null
      b: Uint8Array | ArrayBuffer | null
    }>(sql`select id, name, n, b from w order by id`)
    expect(rows.map((r) => [r.id, r.name, r.n])).toEqual([
      [1, 'x "quoted" ✓', 1.5],
      [2, null, -3],
      [3, null, null],
    ])
    expect([...new Uint8Array(rows[2]!.b as ArrayBuffer)]).toEqual([1, 2, 255])
  })

  it('writes nothing when one statement fails, and rejects with the database error', async () => {
    const failing = writeTransaction(db, [
      { sql: 'insert into t (v) values (?)', args: ['e'] },
      { sql: 'insert into t (v) values (?)', args: [], rows: [['f'], ['a']] }, // 'a' is taken
    ])
    await expect(failing).rejects.toThrow(/UNIQUE constraint failed: t\.v/)
    expect(await values(db)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('runs a check that raises an error (a select) as part of the transaction', async () => {
    const check = (ok: boolean) => ({ sql: `select case when ? then 1 else json('not so') end`, args: [ok ? 1 : 0] })
    await expect(
      writeTransaction(db, [{ sql: 'insert into t (v) values (?)', args: ['g'] }, check(false)]),
    ).rejects.toThrow(/malformed JSON/i)
    await writeTransaction(db, [{ sql: 'insert into t (v) values (?)', args: ['h'] }, check(true)])
    expect(await values(db)).toEqual(['a', 'b', 'c', 'd', 'h'])
  })

  it('applies transactions sent together in the order sent', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        writeTransaction(db, [{ sql: 'insert into t (v) values (?)', args: [`n${i}`] }]),
      ),
    )
    expect((await values(db)).slice(5)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`))
  })
})

it('refuses a transaction once the database is closed', async () => {
  const o = await openDb({ url: `file:${join(dir, 'closed.db')}` })
  await o.db.run(sql`create table t (v text)`)
  await writeTransaction(o.db, [{ sql: 'insert into t (v) values (?)', args: ['x'] }])
  o.client.close()
  await expect(writeTransaction(o.db, [{ sql: 'insert into t (v) values (?)', args: ['y'] }])).rejects.toThrow(/closed/)
})

describe("the transaction thread's epoch", () => {
  const insert = (v: string) => ({ sql: 'insert into t (v) values (?)', args: [v] })
  it('refuses, writing nothing, a transaction made before another connection committed or one of its own rolled back; takes it again made as of the new epoch', async () => {
    const db = await open(`file:${join(dir, 'epoch.db')}`)
    expect(transactionEpoch(db)).toBe(0)
    // A new thread has seen nothing: a transaction made as of an epoch before it is refused.
    await expect(writeTransaction(db, [insert('a')], 0)).rejects.toMatchObject({ code: 'STALE_EPOCH' })
    const first = transactionEpoch(db)!
    expect(first).toBeGreaterThan(0)
    await writeTransaction(db, [insert('a')], first)
    await writeTransaction(db, [insert('b')], first) // its own commits change nothing
    expect(transactionEpoch(db)).toBe(first)

    // Another connection commits: the next transaction made as of `first` is refused.
    await db.run(sql`insert into t (v) values ('by the client')`)
    await expect(writeTransaction(db, [insert('c')], first)).rejects.toThrow(/stale alert cache/)
    const second = transactionEpoch(db)!
    expect(second).toBeGreaterThan(first)
    await writeTransaction(db, [insert('c')], second)

    // One of its own rolls back: what was made as of the epoch before it is refused.
    await expect(writeTransaction(db, [insert('d'), insert('a')], second)).rejects.toThrow(/UNIQUE/)
    const third = transactionEpoch(db)!
    expect(third).toBeGreaterThan(second)
    await expect(writeTransaction(db, [insert('e')], second)).rejects.toMatchObject({ code: 'STALE_EPOCH' })
    // Without an epoch a transaction is never refused for one.
    await db.run(sql`insert into t (v) values ('again by the client')`)
    await writeTransaction(db, [insert('f')])
    expect(await values(db)).toEqual(['a', 'b', 'by the client', 'c', 'again by the client', 'f'])
    expect(isStaleCache(await writeTransaction(db, [insert('g')], third).catch((e: unknown) => e))).toBe(true)
  })

  it('runs the fallback check instead of refusing once the epoch moved: commits when it holds, writes nothing when it fails; skips it otherwise', async () => {
    const db = await open(`file:${join(dir, 'fallback.db')}`)
    await writeTransaction(db, [insert('seed')])
    const epoch = transactionEpoch(db)!
    // A check in the cache check's shape: fails (malformed JSON) unless the row is still there.
    const check = (v: string) => ({
      sql: "select case when (select count(*) from t where v = ?) = 1 then 1 else json('stale alert cache') end",
      args: [v],
    })
    // The epoch has not moved: the fallback is not run (it would fail), the transaction commits.
    await writeTransaction(db, [insert('a')], epoch, check('not there'))
    // Another connection commits something the fallback does not cover: it holds, the transaction commits.
    await db.run(sql`insert into t (v) values ('lease')`)
    await writeTransaction(db, [insert('b')], epoch, check('seed'))
    // Another connection changes what the fallback covers: nothing is written, the error is a stale cache's.
    await db.run(sql`delete from t where v = 'seed'`)
    const failed = await writeTransaction(db, [insert('c')], epoch, check('seed')).catch((e: unknown) => e)
    expect(isStaleCache(failed)).toBe(true)
    expect((failed as { code?: string }).code).not.toBe('STALE_EPOCH')
    // Without a fallback, as before: refused.
    await expect(writeTransaction(db, [insert('d')], epoch)).rejects.toMatchObject({ code: 'STALE_EPOCH' })
    expect(await values(db)).toEqual(['a', 'lease', 'b'])
  })

  it('is not kept without a thread (an in-memory database): every cached row is checked', async () => {
    expect(transactionEpoch(await open(':memory:'))).toBeUndefined()
  })
})
