/**
 * The fleet query's fast paths (group-quantiles.ts for p50/p95/p99, sketch-free step buckets for the
 * rest, positional rollup reads) against the read as it was before them (`reference` below: Drizzle
 * rows, every sketch decoded and merged row by row), on random data: groups of uneven size, gaps,
 * series that start and stop mid-range, zeros and negatives, a renamed metric read in another unit,
 * raw points after the rollups' watermark, and ranges and steps that do not line up with the rollups.
 */
import { and, eq, gte, inArray, lt } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readRaw } from '../../app/modules/metrics/inbox.ts'
import { kindOf } from '../../app/modules/metrics/kinds.ts'
import {
  type Aggregation,
  aggregations,
  type Bucket,
  findSeries,
  groupSeries,
  groupValues,
  merge,
  newBucket,
  pickResolution,
  type QueryInput,
  runQuery,
  scalesOf,
} from '../../app/modules/metrics/query.ts'
import { decodeRollup, runRollups } from '../../app/modules/metrics/rollup.ts'
import { addValue, decodeSketch, scaleSketch } from '../../app/modules/metrics/sketch.ts'
import { createMetricStore, RESOLUTIONS, type Sample } from '../../app/modules/metrics/store.ts'
import type { Db } from '../../db/client.ts'
import { rollups, rollupWatermarks } from '../../db/schema/metrics.ts'
import { minuteRollups } from '../helpers/rollup-rows.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
const MIN = 60_000
const H = 3_600_000
const END = T0 + 4 * H // rollups run up to here; raw points follow for 10 minutes

function rng(seed: number) {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `stepBuckets` as it read before the fast paths: Drizzle objects, a decoded sketch merged per row. */
async function reference(
  db: Db,
  ids: number[],
  q: Pick<QueryInput, 'from' | 'to' | 'step'>,
  scales?: ReadonlyMap<number, number>,
) {
  const out = new Map<number, Map<number, Bucket>>(ids.map((id) => [id, new Map()]))
  const put = (sid: number, ts: number) => {
    const at = ts - (ts % q.step)
    const m = out.get(sid)!
    let b = m.get(at)
    if (!b) m.set(at, (b = newBucket()))
    return b
  }
  const marks = new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
  const top = pickResolution(q.step)
  let cursor = q.from
  for (const res of [...RESOLUTIONS].reverse()) {
    if (top === null || res > top) continue
    const until = Math.min(q.to - (q.to % (res * 1000)), marks.get(res) ?? 0)
    const start = cursor + ((res * 1000 - (cursor % (res * 1000))) % (res * 1000))
    if (until <= start || start > cursor) continue
    const rows =
      res === 60
        ? await minuteRollups(db, ids, start, until)
        : await db
            .select()
            .from(rollups)
            .where(
              and(
                eq(rollups.resolution, res),
                inArray(rollups.seriesId, ids),
                gte(rollups.bucket, start),
                lt(rollups.bucket, until),
              ),
            )
    for (const r of rows) merge(put(r.seriesId, r.bucket), decodeRollup(r), decodeSketch(r.sketch))
    cursor = until - (until % (res * 1000))
  }
  if (cursor < q.to)
    for (const p of await readRaw(db, ids, cursor, q.to)) {
      const b = put(p.seriesId, p.ts)
      b.count++
      b.sum += p.value
      b.min = Math.min(b.min, p.value)
      b.max = Math.max(b.max, p.value)
      if (p.ts >= b.lastTs) Object.assign(b, { last: p.value, lastTs: p.ts })
      addValue(b.sketch, p.value)
    }
  if (scales)
    for (const [sid, f] of scales)
      for (const b of out.get(sid)?.values() ?? []) {
        b.sum *= f
        b.min *= f
        b.max *= f
        b.last *= f
        b.sketch = scaleSketch(b.sketch, f)
      }
  return out
}

async function referenceQuery(db: Db, q: QueryInput) {
  const found = await findSeries(db, q.name, q.match)
  const kind = await kindOf(db, q.name)
  const buckets = await reference(
    db,
    found.map((s) => s.id),
    q,
    scalesOf(found),
  )
  return groupSeries(found, q.by).map((g) => ({
    labels: g.labels,
    series: g.members.length,
    values: groupValues(g.members, buckets, { ...q, kind }),
  }))
}

let t: TestApp
beforeAll(async () => {
  t = await testApp()
  const random = rng(23)
  const samples: Sample[] = []
  // 18 series of `fleet_ms` in agents of 1 to 6 hosts; 6 of `llm_latency_ms` (the old name of
  // llm_latency_seconds, read ×0.001) and 3 of `llm_latency_seconds` under the same agents.
  const plan: { name: string; labels: Record<string, string> }[] = []
  for (let i = 0; i < 18; i++)
    plan.push({ name: 'fleet_ms', labels: { agent: `a${[0, 1, 1, 2, 2, 2][i % 6]}${i % 3}`, host: `h${i}` } })
  for (let i = 0; i < 6; i++) plan.push({ name: 'llm_latency_ms', labels: { agent: `m${i % 2}`, host: `old${i}` } })
  for (let i = 0; i < 3; i++)
    plan.push({ name: 'llm_latency_seconds', labels: { agent: `m${i % 2}`, host: `new${i}` } })
  for (const [i, s] of plan.entries()) {
    // Some start late, some stop early, each has a quiet half hour somewhere and drops a fifth of its points.
    const start = T0 + (i % 4 === 1 ? Math.floor(random() * 90) * MIN : 0)
    const stop = END + 10 * MIN - (i % 5 === 2 ? Math.floor(random() * 120) * MIN : 0)
    const quiet = T0 + Math.floor(random() * 200) * MIN
    const every = [15_000, 20_000, 60_000][i % 3]!
    for (let ts = start + Math.floor(random() * every); ts < stop; ts += every) {
      if (random() < 0.2 || (ts >= quiet && ts < quiet + 30 * MIN)) continue
      const r = random()
      const value =
        s.name === 'llm_latency_seconds'
          ? Math.round(random() * 3000) / 1000
          : r < 0.05
            ? 0
            : r < 0.1
              ? -Math.round(random() * 500) / 10
              : Math.round(20 + 900 * random() * random() * 10) / 10
      samples.push({ name: s.name, labels: s.labels, value, ts })
    }
  }
  const store = createMetricStore(t.db, { maxSeriesPerMetric: 1000 })
  const past = samples.filter((s) => s.ts < END)
  for (let i = 0; i < past.length; i += 5000) await store.write(past.slice(i, i + 5000), END)
  for (;;) {
    const r = await runRollups(t.db, END + 2 * MIN)
    if (!r.steps && !r.rebuilt) break
  }
  // After the rollups: points the query reads raw.
  await store.write(
    samples.filter((s) => s.ts >= END),
    END + 10 * MIN,
  )
}, 120_000)
afterAll(() => t.close())

describe('fleet query fast paths', () => {
  const steps = [30_000, MIN, 5 * MIN, 7 * MIN, H, 3 * H]
  const bys = [[], ['agent'], ['host', 'agent']]
  const ranges = [
    { from: T0 - H, to: END + 10 * MIN },
    { from: T0 + 37 * MIN, to: T0 + 2 * H + 30_000 },
    { from: T0 + 3 * H, to: END + 5 * MIN },
  ]
  it('answers every aggregation, step, grouping and range exactly as the read before them', async () => {
    let compared = 0
    let nonEmpty = 0
    for (const agg of aggregations as readonly Aggregation[])
      for (const [si, step] of steps.entries())
        for (const [bi, by] of bys.entries()) {
          const range = ranges[(si + bi) % ranges.length]!
          for (const name of ['fleet_ms', 'llm_latency_seconds']) {
            const match: Record<string, string> = (si + bi) % 2 && name === 'fleet_ms' ? { agent: 'a12' } : {}
            const q: QueryInput = { name, match, from: range.from - (range.from % step), to: range.to, step, agg, by }
            const fast = await runQuery(t.db, q)
            const plain = await referenceQuery(t.db, q)
            expect(fast.series, `${name} ${agg} step ${step} by ${by} from ${q.from}`).toEqual(plain)
            compared++
            nonEmpty += fast.series.filter((s) => s.values.length).length
          }
        }
    expect(compared).toBe(aggregations.length * steps.length * bys.length * 2)
    expect(nonEmpty).toBeGreaterThan(compared) // the data reach most groups of most queries
  }, 300_000)

  it('reads the rollups: a 1 h step of the grouped p95 comes from hourly rollups and matches the reference', async () => {
    const q: QueryInput = { name: 'fleet_ms', match: {}, from: T0, to: END, step: H, agg: 'p95', by: ['agent'] }
    const fast = await runQuery(t.db, q)
    expect(fast.resolution).toBe(3600)
    expect(fast.series.length).toBeGreaterThan(3)
    expect(fast.series.every((s) => s.values.length === 4)).toBe(true)
    expect(fast.series).toEqual(await referenceQuery(t.db, q))
  })
})

describe('GET /api/v1/metrics/query over long ranges', () => {
  it('defaults a 30-day range to a whole-hour step the hourly rollups serve', async () => {
    const { headers } = await t.key('viewer')
    const res = await t.app.request(
      `/api/v1/metrics/query?name=fleet_ms&agg=p95&by=agent&from=${END - 30 * 24 * H}&to=${END}`,
      { headers },
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as { step: number; resolution: string; series: { values: unknown[] }[] }
    expect(body.step).toBe(3 * H)
    expect(body.resolution).toBe('1h')
    expect(body.series.some((s) => s.values.length > 0)).toBe(true)
  })

  it('refuses more than 11,000 steps with a 400 naming step, before reading anything', async () => {
    const { headers } = await t.key('viewer')
    const res = await t.app.request(
      `/api/v1/metrics/query?name=fleet_ms&agg=p95&from=${END - 30 * 24 * H}&to=${END}&step=1m`,
      { headers },
    )
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { details: { field: string; message: string }[] } }
    expect(body.error.details).toEqual([{ field: 'step', message: expect.stringContaining('11000') }])
  })
})
