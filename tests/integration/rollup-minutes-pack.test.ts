/**
 * The 1-minute tier packed an hour a row (ADR 0030) answers as the points it summarises: on a random
 * fleet with gaps, irregular times and late points (overwrites and new minutes behind the watermark,
 * rebuilt by the job into their packs), every query over the minute tier equals the same query read
 * from the raw points alone (the watermarks removed), and so do the per-label sums, quantiles and
 * sparkline means. Values are quarters, so a sum is exact in any order and "equal" means equal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rollupWatermarks } from '../../db/schema/metrics.ts'
import {
  bucketMeans,
  plan,
  quantileByLabel,
  runRollups,
  sumsByLabel,
  watermarks,
} from '../../app/modules/metrics/index.ts'
import { runQuery } from '../../app/modules/metrics/query.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { minuteRollups } from '../helpers/rollup-rows.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const MIN = 60_000
const H = 3_600_000
const T0 = Date.parse('2026-11-20T10:00:00Z')
const NOW = T0 + 3 * H + 10 * MIN

let state = 99
const random = () => {
  state = (state * 1_103_515_245 + 12_345) % 2 ** 31
  return state / 2 ** 31
}
const value = () => Math.round((random() - 0.2) * 4000) / 4

let t: TestApp
beforeAll(async () => {
  t = await testApp()
})
afterAll(() => t.close())

type Sample = { name: string; labels: Record<string, string>; value: number; ts: number }

describe('minute packs read as the points they summarise', () => {
  it('every aggregation, step and grouping, by-label sums, quantiles and means, with late points', async () => {
    const store = createMetricStore(t.db)
    const fleet: Sample[] = []
    for (let s = 0; s < 24; s++)
      for (let ts = T0 + Math.floor(random() * 20_000); ts < T0 + 3 * H; ts += 5_000 + Math.floor(random() * 40_000))
        if (((ts - T0) / MIN + s) % 11 >= 1)
          fleet.push({ name: 'pack_ms', labels: { agent: `a${s % 4}`, host: `h${s}` }, value: value(), ts })
    for (let i = 0; i < fleet.length; i += 2000) await store.write(fleet.slice(i, i + 2000), T0 + 3 * H)
    await runRollups(t.db, NOW)
    // Late: overwrites of existing points and points in minutes that had none, behind every watermark.
    const late = fleet
      .filter(() => random() < 0.03)
      .map((p) => ({ ...p, value: value() }))
      .concat(
        Array.from({ length: 40 }, (_, i) => ({
          name: 'pack_ms',
          labels: { agent: `a${i % 4}`, host: `h${i % 24}` },
          value: value(),
          ts: T0 + Math.floor(random() * 3 * H),
        })),
      )
    await store.write(late, NOW)
    expect((await runRollups(t.db, NOW)).rebuilt).toBeGreaterThan(0)
    expect((await minuteRollups(t.db)).length).toBeGreaterThan(24 * 150)
    // Hourly rows built from packed minutes sit at their hour, not at the hour's first minute with data.
    const off = await t.db.$client.execute(
      'select count(*) from rollups where resolution > 60 and bucket % (resolution * 1000) != 0',
    )
    expect(Number(off.rows[0]![0])).toBe(0)
    const hours = await t.db.$client.execute('select count(*) from rollups where resolution = 3600')
    expect(Number(hours.rows[0]![0])).toBe(24 * 3)

    const queries = [
      { from: T0, to: T0 + 3 * H, step: MIN },
      { from: T0 + 7 * MIN, to: T0 + 2 * H + 30_000, step: 5 * MIN },
      { from: T0 + 30 * MIN, to: T0 + 3 * H, step: 7 * MIN },
    ]
    const aggs = ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99'] as const
    const ask = async () => {
      const out = []
      for (const q of queries)
        for (const agg of aggs)
          for (const by of [[], ['agent']])
            out.push(await runQuery(t.db, { name: 'pack_ms', match: {}, ...q, agg, by }))
      const segs = plan(T0 + 5 * MIN, T0 + 3 * H, await watermarks(t.db))
      out.push(Object.fromEntries(await sumsByLabel(t.db, ['pack_ms'], segs, 'agent')))
      out.push(Object.fromEntries(await sumsByLabel(t.db, ['pack_ms'], segs, 'agent', 'count')))
      out.push(Object.fromEntries(await quantileByLabel(t.db, 'pack_ms', 0.95, segs, 'agent')))
      out.push(
        await bucketMeans(t.db, {
          names: ['pack_ms'],
          label: 'agent',
          values: ['a0', 'a1', 'a3'],
          // Inside one hour: minute rollups (a whole hour would be read from its hourly row, coarser).
          from: T0 + 65 * MIN,
          to: T0 + 115 * MIN,
          buckets: 10,
        }),
      )
      return { out, segs }
    }
    const packed = await ask()
    expect(packed.segs.some((s) => s.res === 60)).toBe(true)
    // The same reads from raw points only.
    const marks = await t.db.select().from(rollupWatermarks)
    await t.db.delete(rollupWatermarks)
    const raw = await ask()
    expect(raw.segs.every((s) => s.res === null)).toBe(true)
    await t.db.insert(rollupWatermarks).values(marks)
    expect(packed.out.length).toBe(raw.out.length)
    for (let i = 0; i < raw.out.length; i++) expect(packed.out[i]).toEqual(raw.out[i])
  }, 120_000)
})
