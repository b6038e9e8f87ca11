import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb } from '../../db/client.ts'
import { migrationsFolder, runMigrations } from '../../db/migrate.ts'
import { CHUNK_POINTS } from '../../app/modules/metrics/chunks.ts'
import { moveInbox, readRaw } from '../../app/modules/metrics/inbox.ts'
import { convertLegacyPoints } from '../../app/modules/metrics/legacy.ts'
import { purgeExpired } from '../../app/modules/metrics/retention.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { otherInstance, testApp, type TestApp } from '../helpers/app.ts'
import { storedPoints } from '../helpers/raw-points.ts'

// Raw points at rest as per-series chunks (app/modules/metrics/chunks.ts, ADR 0019).
const T0 = Date.parse('2026-11-20T00:00:00Z')
const DAY = 86_400_000
let t: TestApp
beforeEach(async () => {
  t = await testApp()
})
afterEach(() => t.close())

const series = (n: number, ts: number, value: (i: number) => number, name = 'chunked'): Sample[] =>
  Array.from({ length: n }, (_, i) => ({ name, labels: { host: `h${i}` }, value: value(i), ts }))
const chunkCount = async () =>
  Number((await t.db.all<{ n: number }>(sql`select count(*) as n from point_chunks`))[0]!.n)

describe('raw point chunks', () => {
  it('fills chunks across moves, overwrites a moved point, and takes out-of-order arrivals', async () => {
    const store = createMetricStore(t.db)
    const one = (ts: number, value: number) => store.write([{ name: 'one', labels: {}, value, ts }], T0 + DAY)
    for (let i = 0; i < 300; i++) {
      await one(T0 + i * 15_000, i)
      if (i % 50 === 49) await moveInbox(t.db)
    }
    await moveInbox(t.db)
    // 300 points in 15 s steps: a full chunk and an open one, not a chunk per move.
    expect(await chunkCount()).toBe(2)
    await one(T0 + 10 * 15_000, -10) // overwrite inside the first (full) chunk
    await one(T0 - 15_000, -1) // before everything
    await one(T0 + 7_500, 0.5) // between two stored points
    const read = async () => (await storedPoints(t.db)).map((p) => [(p.ts - T0) / 15_000, p.value])
    const before = await read() // merged from chunks and inbox
    await moveInbox(t.db)
    const after = await read()
    expect(after).toEqual(before)
    expect(after).toHaveLength(302)
    expect(after.slice(0, 3)).toEqual([
      [-1, -1],
      [0, 0],
      [0.5, 0.5],
    ])
    expect(after.find(([k]) => k === 10)).toEqual([10, -10])
    // A retried write of what is stored changes nothing.
    await one(T0 + 10 * 15_000, -10)
    await moveInbox(t.db)
    expect(await read()).toEqual(after)
  })

  it('movers of two instances racing over the same batches leave every point once, the last write winning', async () => {
    const other = await otherInstance(t)
    try {
      const store = createMetricStore(t.db)
      for (let r = 0; r < 5; r++)
        await store.write(
          series(50, T0 + r * 1000, (i) => r * 100 + i),
          T0 + DAY,
        )
      await Promise.all([moveInbox(t.db), moveInbox(other.db), moveInbox(t.db)])
      await store.write(
        series(50, T0 + 2000, (i) => -i),
        T0 + DAY,
      ) // overwrites r = 2
      await store.write(
        series(50, T0 + 5000, (i) => 500 + i),
        T0 + DAY,
      )
      await Promise.all([moveInbox(other.db), moveInbox(t.db)])
      const got = await storedPoints(t.db)
      expect(got).toHaveLength(50 * 6)
      const value = (host: number, r: number) =>
        got.find((p) => p.labels.host === `h${host}` && p.ts === T0 + r * 1000)?.value
      expect([value(7, 0), value(7, 2), value(7, 4), value(7, 5)]).toEqual([7, -7, 407, 507])
    } finally {
      other.close()
    }
  })

  it('a backfill behind newer data leaves the newer chunks as they are and fills its own across moves', async () => {
    const store = createMetricStore(t.db)
    const now = T0 + 2 * DAY
    const write = (from: number, n: number, value: (k: number) => number) =>
      store.write(
        Array.from({ length: n }, (_, k) => ({ name: 'late', labels: {}, value: value(k), ts: from + k * 15_000 })),
        now,
      )
    // Six live hours, moved: 6 full chunks of 240 points.
    const live = now - 6 * 3_600_000
    await write(live, 1440, (k) => k)
    await moveInbox(t.db)
    const keys = async () =>
      (await t.db.all<{ k: string }>(sql`select start_ts || ':' || seq as k from point_chunks order by start_ts`)).map(
        (r) => r.k,
      )
    const liveKeys = await keys()
    expect(liveKeys).toHaveLength(6)
    // A day earlier, 1 000 points arrive oldest first, moved every 100 (the mover catching up).
    const day = T0
    for (let i = 0; i < 1000; i += 100) {
      await write(day + i * 15_000, 100, (k) => -(i + k))
      await moveInbox(t.db)
    }
    const all = await keys()
    // The live chunks were not read and written again (same start and seq), and the backfill's
    // 1 000 points fill 5 chunks, not one or more a move.
    expect(all.slice(-6)).toEqual(liveKeys)
    expect(all).toHaveLength(6 + Math.ceil(1000 / CHUNK_POINTS))
    // A point in the gap between the two, and one overwriting a live point, still land.
    await store.write(
      [
        { name: 'late', labels: {}, value: 0.5, ts: now - DAY / 2 },
        { name: 'late', labels: {}, value: -7, ts: live + 15_000 },
      ],
      now,
    )
    await moveInbox(t.db)
    const points = await storedPoints(t.db)
    expect(points).toHaveLength(2441)
    expect(points.slice(0, 2).map((p) => p.value)).toEqual([-0, -1])
    expect(points.find((p) => p.ts === now - DAY / 2)?.value).toBe(0.5)
    expect(points.find((p) => p.ts === live + 15_000)?.value).toBe(-7)
    expect(points.at(-1)).toMatchObject({ ts: live + 1439 * 15_000, value: 1439 })
  })

  it('retention cuts the chunk that straddles the cutoff and deletes whole chunks before it', async () => {
    const store = createMetricStore(t.db)
    const now = T0 + 10 * DAY
    // One series, a point a minute over 10 days: 60 chunks of 240 points.
    const samples: Sample[] = []
    for (let ts = T0; ts < now; ts += 60_000) samples.push({ name: 'cut', labels: {}, value: ts / 60_000, ts })
    for (let i = 0; i < samples.length; i += 5000) await store.write(samples.slice(i, i + 5000), now)
    await moveInbox(t.db)
    const before = await chunkCount() // 120 chunks: a chunk spans less than 2 h
    const cutoff = now - 7 * DAY + 30 * 60_000 // half-way into a chunk
    const keep = { raw: 7 - 1 / 48, 60: 30, 3600: 30, 86_400: 30 }
    const counts = await purgeExpired(t.db, keep, now)
    const left = await storedPoints(t.db)
    expect(left[0]!.ts).toBe(cutoff)
    expect(left).toHaveLength(samples.filter((s) => s.ts >= cutoff).length)
    expect(counts.points).toBe(samples.length - left.length)
    expect(left.every((p) => p.value === p.ts / 60_000)).toBe(true)
    // The 36 chunks of the first 3 days are gone, the 37th is cut, the rest as they were.
    expect([before, await chunkCount()]).toEqual([120, 84])
    expect(CHUNK_POINTS).toBeGreaterThan(120)
  })

  it('a read of one series over a range decodes only the chunks it needs, and sees nothing outside it', async () => {
    const store = createMetricStore(t.db)
    await store.write(
      series(3, T0, (i) => i),
      T0 + DAY,
    )
    await store.write(
      series(3, T0 + 1000, (i) => 10 + i),
      T0 + DAY,
    )
    await moveInbox(t.db)
    const [id] = await store.seriesIds(
      series(1, T0, () => 0),
      T0,
    )
    expect(await readRaw(t.db, [id!], T0, T0 + 1000)).toEqual([{ seriesId: id, ts: T0, value: 0 }])
    expect(await readRaw(t.db, [id!], T0 + 1, T0 + 1000)).toEqual([])
    expect(await readRaw(t.db, [], T0, T0 + 5000)).toEqual([])
  })
})

describe('migration 0026: raw rows into chunks', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'homeostat-chunks-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('converts the rows of points and points_inbox (the inbox winning), in pages, and drops the old table', async () => {
    // Migrations up to 0025, as a database of the row-per-point layout.
    const old = join(dir, 'migrations')
    cpSync(migrationsFolder, old, { recursive: true })
    const journal = JSON.parse(readFileSync(join(old, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] }
    journal.entries = journal.entries.filter((e) => e.tag < '0026')
    writeFileSync(join(old, 'meta/_journal.json'), JSON.stringify(journal))
    const { db, client } = await openDb({ url: `file:${join(dir, 'old.db')}` })
    try {
      await migrate(db, { migrationsFolder: old })
      await db.run(sql`insert into series (fingerprint, name, labels, created_at, last_seen_at)
        values ('a', 'legacy', '{"host":"a"}', 0, 0), ('b', 'legacy', '{"host":"b"}', 0, 0)`)
      // Series 1: 500 points in points; series 2: 3 in points, one overwritten and one new in the inbox.
      for (let i = 0; i < 500; i += 100)
        await client.execute({
          sql: `insert into points (series_id, ts, value) select 1, ? + value * 1000, value * 0.5 from (with recursive n(value) as (select ? union all select value + 1 from n where value < ?) select value from n)`,
          args: [T0, i, i + 99],
        })
      await db.run(
        sql`insert into points (series_id, ts, value) values (2, ${T0}, 1), (2, ${T0 + 1000}, 2), (2, ${T0 + 2000}, 3)`,
      )
      await db.run(
        sql`insert into points_inbox (ts, series_id, value) values (${T0 + 1000}, 2, 20), (${T0 + 5000}, 2, 50)`,
      )
      await runMigrations(db)
      expect(await convertLegacyPoints(db, { pageRows: 128 })).toBe(504) // 500 + 3 + one new in the inbox
      const tables = await db.all<{ name: string }>(sql`select name from sqlite_master where name like 'points%'`)
      expect(tables).toEqual([])
      const one = await readRaw(db, [1], T0, T0 + DAY)
      expect(one).toHaveLength(500)
      expect(one.every((p) => p.value === (p.ts - T0) / 2000)).toBe(true)
      expect((await readRaw(db, [2], T0, T0 + DAY)).map((p) => [(p.ts - T0) / 1000, p.value])).toEqual([
        [0, 1],
        [1, 20],
        [2, 3],
        [5, 50],
      ])
      // A second start finds nothing to convert.
      expect(await convertLegacyPoints(db)).toBe(0)
    } finally {
      client.close()
    }
  })
})
