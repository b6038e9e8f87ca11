/**
 * The compact rollup row (ADR 0022): migration 0028 converts rows of the old layout (text sketches,
 * re-encoded in binary by the start-up conversion), and what queries (step buckets, the fleet
 * quantiles, the per-label quantiles) and the rollup job read from converted rows, from new rows and
 * from both together is exactly what the values say: minutes of one value, of two, of one value
 * repeated, spread with zero and negatives.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { minuteRollups } from '../helpers/rollup-rows.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { quantileByLabel } from '../../app/modules/metrics/by-label.ts'
import { convertTextSketches, packMinuteRows } from '../../app/modules/metrics/legacy.ts'
import { runQuery, stepBuckets } from '../../app/modules/metrics/query.ts'
import { decodeRollup, runRollups } from '../../app/modules/metrics/rollup.ts'
import { addValue, decodeSketch, emptySketch, quantile, type Sketch } from '../../app/modules/metrics/sketch.ts'
import { createMetricStore, fingerprintOf } from '../../app/modules/metrics/store.ts'
import { openDb } from '../../db/client.ts'
import { migrationsFolder, runMigrations } from '../../db/migrate.ts'
import { rollups } from '../../db/schema/metrics.ts'

const MIN = 60_000
const H = 3_600_000
const T0 = Date.parse('2026-11-20T10:00:00Z')

let dir: string
let opened: Awaited<ReturnType<typeof openDb>>
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homeostat-rollup-enc-'))
  opened = await openDb({ url: `file:${join(dir, 'test.db')}` })
})
afterEach(() => {
  opened.client.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Applies the shipped migrations before `tag` (a copy of the folder with the journal cut there). */
async function migrateBefore(tag: string) {
  const folder = join(dir, 'migrations')
  cpSync(migrationsFolder, folder, { recursive: true })
  const journalFile = join(folder, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] }
  const at = journal.entries.findIndex((e) => e.tag === tag)
  expect(at).toBeGreaterThan(0)
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }))
  await migrate(opened.db, { migrationsFolder: folder })
}

/** The text form rows had before migration 0028 (what the old release's encodeSketch wrote). */
function textOf(s: Sketch) {
  const enc = (m: Map<number, number>) => [...m].map(([i, c]) => `${i}:${c}`).join(',')
  return `${s.zero}|${enc(s.pos)}|${enc(s.neg)}`
}

// Minute m of the hour holds these values, one every 10 s (exact binary fractions: sums in any order agree).
const minuteValues = (m: number): number[] => {
  if (m % 5 === 0) return [m + 0.5] // one value
  if (m % 5 === 1) return [m, -m] // two
  if (m % 5 === 2) return [4.25, 4.25, 4.25] // one value repeated
  if (m % 5 === 3) return [0, 0.125, -2, 1024, 3.5, 3.5] // spread, with zero and a negative
  return [m * 10, m * 10 + 1, m * 10 + 0.75, m] // last is the minimum
}
const points = (m: number) => minuteValues(m).map((value, i) => ({ ts: T0 + m * MIN + i * 10_000, value }))

function summaryOf(ps: { ts: number; value: number }[]) {
  const sketch = emptySketch()
  for (const p of ps) addValue(sketch, p.value)
  const values = ps.map((p) => p.value)
  return {
    count: ps.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: Math.min(...values),
    max: Math.max(...values),
    last: ps.at(-1)!.value,
    lastTs: ps.at(-1)!.ts,
    sketch,
  }
}
const QS = [0, 0.25, 0.5, 0.95, 0.99, 1]

/** Series 1 and 2 (labels agent a and b), minutes 0–29 rolled up by the old release, then migrated. */
async function oldRelease() {
  await migrateBefore('0028_rollups_compact')
  const c = opened.client
  for (const [id, agent] of [
    [1, 'a'],
    [2, 'b'],
  ] as const)
    await c.execute({
      sql: 'insert into series (id, fingerprint, name, labels, created_at, last_seen_at) values (?, ?, ?, ?, ?, ?)',
      args: [id, fingerprintOf('m', { agent }), 'm', JSON.stringify({ agent }), T0, T0 + H],
    })
  for (const id of [1, 2])
    for (let m = 0; m < 30; m++) {
      const s = summaryOf(points(m))
      await c.execute({
        sql: 'insert into rollups (series_id, resolution, bucket, count, sum, min, max, last, last_ts, sketch) values (?, 60, ?, ?, ?, ?, ?, ?, ?, ?)',
        args: [id, T0 + m * MIN, s.count, s.sum, s.min, s.max, s.last, s.lastTs, textOf(s.sketch)],
      })
    }
  await c.execute(`insert into rollup_watermarks (resolution, watermark) values (60, ${T0 + 30 * MIN})`)
  await c.execute(`insert into rollup_watermarks (resolution, watermark) values (3600, ${T0})`)
  await runMigrations(opened.db)
}

describe('rollup row encoding', () => {
  it('migration 0028 converts old rows, the start-up conversion re-encodes their sketches, once', async () => {
    await oldRelease()
    const c = opened.client
    const schema = String((await c.execute("select sql from sqlite_master where name = 'rollups'")).rows[0]!.sql)
    expect(schema.toUpperCase()).toContain('WITHOUT ROWID')
    expect((await c.execute("select name from sqlite_master where name = 'rollups_res_bucket_idx'")).rows).toEqual([])
    // Before the conversion the sketches are still text.
    const kinds = await c.execute('select distinct typeof(sketch) as t from rollups')
    expect(kinds.rows.map((r) => r.t)).toEqual(['text'])
    expect(await convertTextSketches(opened.db, { pageRows: 7 })).toBe(2 * 30)
    expect((await c.execute("select 1 from sqlite_master where name = 'rollups_text_sketches'")).rows).toEqual([])
    expect(await convertTextSketches(opened.db)).toBe(0) // the mark is gone: nothing is read again
    const unpacked = await opened.db.select().from(rollups).where(eq(rollups.seriesId, 1))
    // Then migration 0030's conversion packs them an hour a row (ADR 0030), in pages that cut the hour.
    expect(await packMinuteRows(opened.db, { pageRows: 7 })).toBe(2 * 30)
    expect(await packMinuteRows(opened.db)).toBe(0)
    expect(await opened.db.select().from(rollups).where(eq(rollups.resolution, 60))).toEqual([])
    expect(
      (await c.execute('select series_id, hour, n from rollup_minutes')).rows.map((r) => [r.series_id, r.hour, r.n]),
    ).toEqual([
      [1, T0, 30],
      [2, T0, 30],
    ])
    const converted = await minuteRollups(opened.db, [1])
    expect(converted).toEqual(unpacked)
    expect(converted).toHaveLength(30)
    for (const r of converted) {
      const m = (r.bucket - T0) / MIN
      const { sketch, ...want } = summaryOf(points(m))
      expect(r.sketch).toBeInstanceOf(Uint8Array)
      expect(r.last === null).toBe(want.last === want.max)
      expect(r.lastOffset).toBe(want.lastTs - r.bucket)
      expect(decodeRollup(r)).toEqual(want)
      for (const q of QS) expect(quantile(decodeSketch(r.sketch), q)).toBe(quantile(sketch, q))
    }
  })

  it('the job builds new rows beside converted ones; an hour merges both; every reader reads both exactly', async () => {
    await oldRelease()
    await convertTextSketches(opened.db)
    await packMinuteRows(opened.db)
    // Minutes 30–59 arrive as raw points after the upgrade.
    const store = createMetricStore(opened.db)
    for (let m = 30; m < 60; m++)
      for (const agent of ['a', 'b'])
        await store.write(
          points(m).map((p) => ({ name: 'm', labels: { agent }, ...p })),
          T0 + m * MIN + MIN,
        )
    await runRollups(opened.db, T0 + 2 * H)
    const minutes = await minuteRollups(opened.db)
    expect(minutes).toHaveLength(120)
    for (const r of minutes) expect(r.sketch).toBeInstanceOf(Uint8Array)
    const all = Array.from({ length: 60 }, (_, m) => points(m)).flat()
    const { sketch: hourSketch, ...hourWant } = summaryOf(all)
    const hours = await opened.db.select().from(rollups).where(eq(rollups.resolution, 3600))
    expect(hours).toHaveLength(2)
    for (const hour of hours) {
      expect(decodeRollup(hour)).toEqual(hourWant)
      expect(hour.sketch).toBeInstanceOf(Uint8Array)
      for (const q of QS) expect(quantile(decodeSketch(hour.sketch), q)).toBe(quantile(hourSketch, q))
    }

    // Step buckets by minute over both halves, and one hour from the hour row.
    const byMinute = (await stepBuckets(opened.db, [1], { from: T0, to: T0 + H, step: MIN })).get(1)!
    expect(byMinute.size).toBe(60)
    for (let m = 0; m < 60; m++) {
      const { sketch, ...want } = summaryOf(points(m))
      const b = byMinute.get(T0 + m * MIN)!
      expect({ count: b.count, sum: b.sum, min: b.min, max: b.max, last: b.last, lastTs: b.lastTs }).toEqual(want)
      for (const q of QS) expect(quantile(b.sketch, q)).toBe(quantile(sketch, q))
    }
    const byHour = (await stepBuckets(opened.db, [1], { from: T0, to: T0 + H, step: H })).get(1)!.get(T0)!
    expect([byHour.count, byHour.min, byHour.max, byHour.last, byHour.lastTs]).toEqual([
      hourWant.count,
      hourWant.min,
      hourWant.max,
      hourWant.last,
      hourWant.lastTs,
    ])

    // The fleet quantile: both series in one group, each series' minute sketches read as one blob.
    const both = (from: number, n: number) => {
      const s = emptySketch()
      for (let m = from; m < from + n; m++) for (const p of points(m)) addValue(s, p.value, 2)
      return s
    }
    const q = { name: 'm', match: {}, from: T0, to: T0 + H, agg: 'p95' as const, by: [] as string[] }
    const five = await runQuery(opened.db, { ...q, step: 5 * MIN, by: ['__none__'] })
    expect(five.series).toHaveLength(1)
    expect(five.series[0]!.values).toEqual(
      Array.from({ length: 12 }, (_, k) => [T0 + k * 5 * MIN, quantile(both(k * 5, 5), 0.95)]),
    )
    const hourly = await runQuery(opened.db, { ...q, step: H, by: ['__none__'] })
    expect(hourly.series[0]!.values).toEqual([[T0, quantile(both(0, 60), 0.95)]])

    // Per label value (the front page's quantiles), over minute rows of both kinds.
    const byAgent = await quantileByLabel(opened.db, 'm', 0.5, [{ res: 60, from: T0, to: T0 + H }], 'agent')
    const one = both(0, 60)
    const half = emptySketch()
    for (let m = 0; m < 60; m++) for (const p of points(m)) addValue(half, p.value)
    expect(Object.fromEntries(byAgent)).toEqual({ a: quantile(half, 0.5), b: quantile(half, 0.5) })
    expect(quantile(one, 0.5)).toBe(quantile(half, 0.5))
  })

  it('a late point rebuilds its converted minute in the new form', async () => {
    await oldRelease()
    await convertTextSketches(opened.db)
    await packMinuteRows(opened.db)
    const late = { name: 'm', labels: { agent: 'a' }, value: 5000, ts: T0 + 3 * MIN + 55_000 }
    // The minute's own points are raw too (a rebuild reads raw points), and the late one after them.
    const store = createMetricStore(opened.db)
    await store.write(
      points(3).map((p) => ({ name: 'm', labels: { agent: 'a' }, ...p })),
      T0 + 20 * MIN,
    )
    await store.write([late], T0 + 20 * MIN)
    await runRollups(opened.db, T0 + 31 * MIN)
    const [row] = await minuteRollups(opened.db, [1], T0 + 3 * MIN, T0 + 4 * MIN)
    const { sketch, ...want } = summaryOf([...points(3), { ts: late.ts, value: late.value }])
    expect(row!.sketch).toBeInstanceOf(Uint8Array)
    expect(row!.last).toBeNull() // the late point is the last and the max
    expect(decodeRollup(row!)).toEqual(want)
    for (const q of QS) expect(quantile(decodeSketch(row!.sketch), q)).toBe(quantile(sketch, q))
  })
})
