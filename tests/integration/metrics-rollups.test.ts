import { and, eq } from 'drizzle-orm'
import { allRollups, minuteRollups } from '../helpers/rollup-rows.ts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { rollupDirty, rollups, rollupWatermarks, series } from '../../db/schema/metrics.ts'
import { decodeRollup, dirtyRanges, runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
const H = 3_600_000
let t: TestApp
beforeEach(async () => {
  t = await testApp()
})
afterEach(() => t.close())

// Three hours of one sample every 10 s: value = minute index + second/100, so each bucket's truth is known.
function samples(hours = 3): Sample[] {
  const out: Sample[] = []
  for (let ts = T0; ts < T0 + hours * H; ts += 10_000)
    out.push({
      name: 'llm_latency_ms',
      labels: { model: 'm1' },
      value: (((ts - T0) / 60_000) % 97) + (ts % 60_000) / 100_000,
      ts,
    })
  return out
}

async function viewer() {
  return (await t.key('viewer')).headers
}

describe('rollups', () => {
  it('builds 1m and 1h buckets that match the raw data, and a re-run changes nothing', async () => {
    const data = samples()
    await createMetricStore(t.db).write(data, T0 + 3 * H + 5 * 60_000)
    const first = await runRollups(t.db, T0 + 3 * H + 5 * 60_000)
    expect(first.buckets).toBeGreaterThan(0)
    const minutes = await minuteRollups(t.db)
    expect(minutes).toHaveLength(180)
    const m5 = minutes.find((r) => r.bucket === T0 + 5 * 60_000)!
    const inM5 = data.filter((d) => d.ts >= T0 + 5 * 60_000 && d.ts < T0 + 6 * 60_000).map((d) => d.value)
    // Read through decodeRollup: the row keeps `last` null when it is the max (ADR 0022).
    expect(decodeRollup(m5)).toMatchObject({
      count: 6,
      min: Math.min(...inM5),
      max: Math.max(...inM5),
      last: inM5.at(-1),
    })
    expect(m5.sum).toBeCloseTo(
      inM5.reduce((a, b) => a + b, 0),
      9,
    )
    const hours = await t.db.select().from(rollups).where(eq(rollups.resolution, 3600))
    expect(hours.map((h) => h.count)).toEqual([360, 360, 360])
    const again = await runRollups(t.db, T0 + 3 * H + 5 * 60_000)
    expect(again).toMatchObject({ buckets: 0, rebuilt: 0 })
    expect(await minuteRollups(t.db)).toEqual(minutes)
  })

  it('resumes after stopping part-way and ends with the same buckets as one full run', async () => {
    await createMetricStore(t.db).write(samples(), T0 + 4 * H)
    await runRollups(t.db, T0 + 4 * H, { maxSteps: 1 }) // as if the process died after one step
    const marks = await t.db.select().from(rollupWatermarks)
    // One whole 3-hour step of minutes (cut on an hour), nothing partial, and no hour built yet.
    expect(marks.find((m) => m.resolution === 60)!.watermark).toBe(T0 + 3 * H)
    expect(marks.find((m) => m.resolution === 3600)).toBeUndefined()
    expect(await minuteRollups(t.db)).toHaveLength(180)
    expect(await t.db.select().from(rollups).where(eq(rollups.resolution, 3600))).toHaveLength(0)
    await runRollups(t.db, T0 + 4 * H)
    const resumed = await allRollups(t.db)

    const fresh = await testApp()
    await createMetricStore(fresh.db).write(samples(), T0 + 4 * H)
    await runRollups(fresh.db, T0 + 4 * H)
    const whole = await allRollups(fresh.db)
    fresh.close()
    expect(resumed.map(({ seriesId, ...r }) => r)).toEqual(whole.map(({ seriesId, ...r }) => r))
  })

  it('a late point rebuilds its minute and hour', async () => {
    const store = createMetricStore(t.db)
    await store.write(samples(), T0 + 3 * H + 5 * 60_000)
    await runRollups(t.db, T0 + 3 * H + 5 * 60_000)
    await store.write(
      [{ name: 'llm_latency_ms', labels: { model: 'm1' }, value: 1000, ts: T0 + 5 * 60_000 + 1 }],
      T0 + 3 * H + 6 * 60_000,
    )
    expect(await t.db.select().from(rollupDirty)).toHaveLength(1)
    const r = await runRollups(t.db, T0 + 3 * H + 6 * 60_000)
    expect(r.rebuilt).toBe(2) // the minute, then its hour
    const [minute] = await minuteRollups(t.db, undefined, T0 + 5 * 60_000, T0 + 6 * 60_000)
    expect(minute).toMatchObject({ count: 7, max: 1000 })
    const [hour] = await t.db
      .select()
      .from(rollups)
      .where(and(eq(rollups.resolution, 3600), eq(rollups.bucket, T0)))
    expect(hour).toMatchObject({ count: 361, max: 1000 })
    expect(await t.db.select().from(rollupDirty)).toHaveLength(0)
  })
})

// 20 series over two hours, each skipping a different set of minutes: a backfill of a fleet with gaps.
function fleetBackfill(): Sample[] {
  const out: Sample[] = []
  for (let ts = T0; ts < T0 + 2 * H; ts += 15_000)
    for (let s = 0; s < 20; s++)
      if (((ts - T0) / 60_000 + s) % 7 !== 0)
        out.push({ name: 'agent_ms', labels: { host: `h${s}` }, value: s + ts / 1e9, ts })
  return out
}

async function rollupsByHost(db: TestApp['db']) {
  const named = await db
    .select({ id: series.id, labels: series.labels })
    .from(series)
    .where(eq(series.name, 'agent_ms'))
  const labelsOf = new Map(named.map((n) => [n.id, n.labels]))
  const rows = (await allRollups(db))
    .filter((r) => labelsOf.has(r.seriesId))
    .map((r) => ({ r, labels: labelsOf.get(r.seriesId)! }))
  return rows
    .map(({ r: { seriesId, ...r }, labels }) => ({ host: labels.host, ...r }))
    .sort((a, b) => a.resolution - b.resolution || a.bucket - b.bucket || a.host!.localeCompare(b.host!))
}

describe('backfill behind the watermark', () => {
  it('rebuilds the same rollups as building the history from scratch', async () => {
    const now = T0 + 3 * H
    const store = createMetricStore(t.db)
    // Live data first: the watermarks reach the present, so the whole history arrives as late points.
    await store.write([{ name: 'agent_ms', labels: { host: 'h0' }, value: 1, ts: now - 5 * 60_000 }], now)
    await runRollups(t.db, now)
    const history = fleetBackfill()
    for (let i = 0; i < history.length; i += 1000) await store.write(history.slice(i, i + 1000), now)
    expect((await t.db.select().from(rollupDirty)).length).toBeGreaterThan(1000)
    await runRollups(t.db, now)
    expect(await t.db.select().from(rollupDirty)).toHaveLength(0)

    const fresh = await testApp()
    const freshStore = createMetricStore(fresh.db)
    await freshStore.write(history, now)
    await freshStore.write([{ name: 'agent_ms', labels: { host: 'h0' }, value: 1, ts: now - 5 * 60_000 }], now)
    await runRollups(fresh.db, now)
    const expected = await rollupsByHost(fresh.db)
    fresh.close()
    expect(expected.filter((r) => r.resolution === 60).length).toBeGreaterThan(2000)
    expect(await rollupsByHost(t.db)).toEqual(expected)
  })

  it('groups dirty marks into shared runs of adjacent buckets', () => {
    const m = 60_000
    const marks = [
      ...[0, 1, 2].flatMap((b) => [1, 2].map((seriesId) => ({ seriesId, bucket: b * m }))),
      { seriesId: 3, bucket: 0 },
      { seriesId: 3, bucket: 5 * m },
      { seriesId: 3, bucket: 6 * m },
    ]
    expect(dirtyRanges(marks, 60)).toEqual([
      { from: 0, to: 3 * m, seriesIds: [1, 2] },
      { from: 0, to: m, seriesIds: [3] },
      { from: 5 * m, to: 7 * m, seriesIds: [3] },
    ])
  })
})

describe('GET /api/v1/metrics/query', () => {
  it('reads hourly rollups for an hourly step, with percentiles within 1%', async () => {
    const data = samples()
    await createMetricStore(t.db).write(data, T0 + 3 * H + 5 * 60_000)
    await runRollups(t.db, T0 + 3 * H + 5 * 60_000)
    const headers = await viewer()
    const url = (agg: string) =>
      `/api/v1/metrics/query?name=llm_latency_ms&match[model]=m1&from=${T0}&to=${T0 + 3 * H}&step=1h&agg=${agg}`
    const res = await t.app.request(url('p95'), { headers })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { resolution: string; series: { values: [string, number][] }[] }
    expect(body.resolution).toBe('1h')
    expect(body.series[0]!.values).toHaveLength(3)
    for (const [i, [iso, got]] of body.series[0]!.values.entries()) {
      expect(iso).toBe(new Date(T0 + i * H).toISOString())
      const sorted = data
        .filter((d) => d.ts >= T0 + i * H && d.ts < T0 + (i + 1) * H)
        .map((d) => d.value)
        .sort((a, b) => a - b)
      const want = sorted[Math.floor(0.95 * (sorted.length - 1))]!
      expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 0.01)
    }
    const avg = (await (await t.app.request(url('avg'), { headers })).json()) as typeof body
    const firstHour = data.filter((d) => d.ts < T0 + H).map((d) => d.value)
    expect(avg.series[0]!.values[0]![1]).toBeCloseTo(firstHour.reduce((a, b) => a + b, 0) / firstHour.length, 9)
  })

  it('a `to` inside a rolled-up bucket counts that bucket once, from finer sources', async () => {
    await createMetricStore(t.db).write(samples(), T0 + 3 * H + 5 * 60_000)
    await runRollups(t.db, T0 + 3 * H + 5 * 60_000)
    const res = await t.app.request(
      `/api/v1/metrics/query?name=llm_latency_ms&from=${T0}&to=${T0 + H + 30 * 60_000 + 5_000}&step=1h&agg=count`,
      { headers: await viewer() },
    )
    const body = (await res.json()) as { series: { values: [string, number][] }[] }
    // one sample every 10 s: 360 in the first hour, 181 in [1h, 1h30m5s)
    expect(body.series[0]!.values.map(([, v]) => v)).toEqual([360, 181])
  })

  it('answers from raw points before any rollup, groups by label and sums', async () => {
    const headers = await viewer()
    const now = Date.now()
    const ingest = (await t.key('operator')).headers
    await t.json(
      'POST',
      '/api/v1/metrics',
      {
        points: [
          { name: 'llm_tokens_total', value: 10, labels: { model: 'a', kind: 'prompt' }, ts: now - 30_000 },
          { name: 'llm_tokens_total', value: 5, labels: { model: 'a', kind: 'completion' }, ts: now - 30_000 },
          { name: 'llm_tokens_total', value: 7, labels: { model: 'b', kind: 'prompt' }, ts: now - 30_000 },
        ],
      },
      ingest,
    )
    const res = await t.app.request(
      `/api/v1/metrics/query?name=llm_tokens_total&from=${now - 60_000}&to=${now}&step=60s&agg=sum&by=model`,
      { headers },
    )
    const body = (await res.json()) as { series: { labels: Record<string, string>; values: [string, number][] }[] }
    const byModel = Object.fromEntries(
      body.series.map((s) => [s.labels.model, s.values.reduce((a, [, v]) => a + v, 0)]),
    )
    expect(byModel).toEqual({ a: 15, b: 7 })
  })

  it('refuses bad queries with the field named', async () => {
    const headers = await viewer()
    const cases: [string, string][] = [
      ['/api/v1/metrics/query?name=x&agg=median', 'agg'],
      ['/api/v1/metrics/query?name=9x', 'name'],
      ['/api/v1/metrics/query?name=x&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['/api/v1/metrics/query?name=x&from=0&to=86400000000&step=1s', 'step'],
      ['/api/v1/metrics/query?name=x&step=soon', 'step'],
      ['/api/v1/metrics/query?name=x&matchx=1', 'matchx'],
    ]
    for (const [url, field] of cases) {
      const res = await t.app.request(url, { headers })
      expect(res.status, url).toBe(400)
      const body = (await res.json()) as { error: { details: { field: string }[] } }
      expect(
        body.error.details.map((d) => d.field),
        url,
      ).toContain(field)
    }
  })
})
