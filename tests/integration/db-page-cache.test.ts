/**
 * Each connection to a local file keeps the page cache ADR 0026 budgets (`PAGE_CACHE_KB`,
 * db/client.ts): a filled cache stays in the process's memory, so the sizes are part of the memory
 * budget. SQLite answers a negative `cache_size` in KB; the writer keeps SQLite's default (-2000).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDb, PAGE_CACHE_KB, readRows, reopenerOf, threadReader } from '../../db/client.ts'

const dir = mkdtempSync(join(tmpdir(), 'homeostat-cache-'))
const opened: { close(): void }[] = []
afterAll(() => {
  for (const c of opened) c.close()
  rmSync(dir, { recursive: true, force: true })
})

const SELECT = 'select cache_size from pragma_cache_size()'

async function sizes(url: string) {
  const { db, client } = await openDb({ url })
  opened.push(client)
  // A PRAGMA statement runs on the client's own connection; a select of the pragma on the reader.
  const own = await client.execute('PRAGMA cache_size')
  const read = await client.execute(SELECT)
  const thread = threadReader(db)
  return {
    db,
    client: Number(own.rows[0]![0]),
    reader: Number(read.rows[0]![0]),
    // The reader's rows keep their values on a shared prototype; the client's have own indices.
    onReader: !Object.getOwnPropertyNames(read.rows[0]).includes('0'),
    writer: Number((await readRows(db, SELECT, []))[0]![0]),
    thread: thread ? Number((await thread(SELECT, []))[0]![0]) : undefined,
  }
}

describe('page cache per connection', () => {
  it('gives the client, the reader, the writer and the transaction thread of a file their own sizes', async () => {
    const s = await sizes(`file:${join(dir, 'a.db')}`)
    expect(s.onReader).toBe(true)
    expect(s.client).toBe(-PAGE_CACHE_KB.client)
    expect(s.reader).toBe(-PAGE_CACHE_KB.reader)
    expect(s.thread).toBe(-PAGE_CACHE_KB.thread)
    expect(s.writer).toBe(-2000) // SQLite's default: inbox inserts append to a few pages
    // The budget ADR 0026 measured: small caches where other connections' commits drop them anyway.
    expect(PAGE_CACHE_KB.client).toBeLessThanOrEqual(4096)
    expect(PAGE_CACHE_KB.reader).toBeLessThanOrEqual(4096)
  })

  it('keeps the sizes when the file is reopened in place (a live restore)', async () => {
    const s = await sizes(`file:${join(dir, 'b.db')}`)
    await reopenerOf(s.db)!(() => {})
    const again = await s.db.$client.execute('PRAGMA cache_size')
    expect(Number(again.rows[0]![0])).toBe(-PAGE_CACHE_KB.client)
    expect(Number((await s.db.$client.execute(SELECT)).rows[0]![0])).toBe(-PAGE_CACHE_KB.reader)
    expect(Number((await threadReader(s.db)!(SELECT, []))[0]![0])).toBe(-PAGE_CACHE_KB.thread)
  })

  it('leaves an in-memory database at its one connection with the client size, and no thread', async () => {
    const s = await sizes(':memory:')
    expect(s.thread).toBeUndefined()
    expect(s.onReader).toBe(false)
    expect(s.client).toBe(-2000) // :memory: takes none of a file's settings
  })
})
