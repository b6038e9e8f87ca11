import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type Client, type ResultSet } from '@libsql/client'
import { eq, sql } from 'drizzle-orm'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb, reopenerOf, writeNow, type Db } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { users } from '../../db/schema/auth.ts'

// On a local file the client's selects run on a reader connection with kept statements
// (db/reader.ts). Whatever they answer must be what @libsql/client itself answers: the same rows
// by index and by name, the same value types, the same errors.
let dir: string
let db: Db
let client: Client
let plain: Client // the same file through @libsql/client alone: the reference
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homeostat-reader-'))
  const url = `file:${join(dir, 'r.db')}`
  ;({ db, client } = await openDb({ url }))
  plain = createClient({ url, intMode: 'number' })
  await client.execute('create table t (id integer primary key, name text, score real, data blob, big integer)')
  await client.execute({
    sql: 'insert into t values (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)',
    args: [1, 'a', 1.5, new Uint8Array([1, 2, 3]), 42, 2, null, null, null, null],
  })
})
afterEach(() => {
  client.close()
  plain.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A result set as plain data: rows by name (spread), by index (Array.from), and the columns. */
const shape = (rs: ResultSet) => ({
  columns: rs.columns,
  columnTypes: rs.columnTypes,
  named: rs.rows.map((r) => ({ ...r })),
  indexed: rs.rows.map((r) => Array.from(r)),
  keys: rs.rows.map((r) => Object.keys(r)),
  json: JSON.stringify(rs.rows),
})

describe('the reader behind the client', () => {
  it('answers a select exactly as @libsql/client does: names, indices, numbers, nulls, blobs', async () => {
    for (const stmt of [
      'select * from t order by id',
      { sql: 'select id, name as label, score * 2 as s from t where id >= ? order by id', args: [1] },
      // Two columns of one name: the first wins by name, both are there by index.
      'select id, name, id + 10 as id from t order by id',
      'select count(*) as n, total(score) as sum from t',
    ]) {
      const mine = await client.execute(stmt)
      const theirs = await plain.execute(stmt)
      expect(shape(mine)).toEqual(shape(theirs))
    }
    const [row] = (await client.execute('select data, big from t where id = 1')).rows
    // The reader answered (its rows keep their values by index on a shared prototype).
    expect(Object.getOwnPropertyNames(row)).not.toContain('0')
    expect(Object.getOwnPropertyNames((await plain.execute('select data from t')).rows[0])).toContain('0')
    expect(row!.data).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(row!.data as ArrayBuffer).slice(0, 3)]).toEqual([1, 2, 3])
    expect(row![1]).toBe(42)
    expect(row!.length).toBe(2)
  })

  it('refuses an integer beyond 2^53 as the client does, and answers the client’s own error for a bad select', async () => {
    await client.execute({ sql: 'update t set big = ? where id = 1', args: [2n ** 60n] })
    await expect(client.execute('select big from t where id = 1')).rejects.toThrow(RangeError)
    await expect(plain.execute('select big from t where id = 1')).rejects.toThrow(RangeError)
    const err = await client.execute('select nope from t').catch((e: unknown) => e)
    const ref = await plain.execute('select nope from t').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as { code?: string }).code).toBe((ref as { code?: string }).code)
    expect((err as Error).message).toBe((ref as Error).message)
  })

  it('leaves writes, named arguments and arguments the client converts to the client', async () => {
    const ins = await client.execute({ sql: 'insert into t (id, name) values (?, ?)', args: [3, 'c'] })
    expect(ins.rowsAffected).toBe(1)
    const named = await client.execute({ sql: 'select name from t where id = :id', args: { id: 3 } })
    expect(named.rows[0]!.name).toBe('c')
    // A boolean and a Date are converted by the client (1, epoch ms): the same answer either way.
    const conv = await client.execute({ sql: 'select ? as b, ? as d', args: [true, new Date(5)] })
    expect(Array.from(conv.rows[0]!)).toEqual([1, 5])
  })

  it('reads what was just written through the client, and Drizzle maps its rows', async () => {
    await runMigrations(db)
    await db.insert(users).values({ id: 'u1', email: 'a@example.com', role: 'viewer', passwordHash: 'x' })
    const [u] = await db.select({ id: users.id, email: users.email }).from(users).where(eq(users.id, 'u1'))
    expect(u).toEqual({ id: 'u1', email: 'a@example.com' })
    await db.update(users).set({ email: 'b@example.com' }).where(eq(users.id, 'u1'))
    const [n] = await db.all<{ email: string }>(sql`select email from users where id = ${'u1'}`)
    expect(n).toEqual({ email: 'b@example.com' })
  })

  it('reads the new file after a restore swapped it under the running client', async () => {
    expect((await client.execute('select count(*) as n from t')).rows[0]!.n).toBe(2)
    await reopenerOf(db)!(async () => {
      const other = createClient({ url: `file:${join(dir, 'r.db')}` })
      await other.execute('delete from t where id = 2')
      other.close()
    })
    expect((await client.execute('select count(*) as n from t')).rows[0]!.n).toBe(1)
  })

  it('writeNow answers the rows each statement changed, on a file and in memory', async () => {
    const stmts = [
      { sql: 'update t set name = ? where id = ?', args: ['z', 1] },
      { sql: 'update t set name = ? where id = ?', args: ['z', 99] },
    ]
    expect(await writeNow(db, stmts)).toEqual([1, 0])
    const mem = await openDb({ url: ':memory:' })
    await mem.client.execute('create table t (id integer primary key, name text)')
    await mem.client.execute("insert into t values (1, 'a')")
    expect(await writeNow(mem.db, stmts)).toEqual([1, 0])
    mem.client.close()
  })
})
