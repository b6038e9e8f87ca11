import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const END = Date.parse('2026-11-20T12:00:00Z')
const START = END - 2 * 3_600_000 // the previous window starts here
const M = 60_000

type Trend = {
  labels: Record<string, string>
  series: number
  current: number | null
  previous: number | null
  change: number | null
  changePct: number | null
  slopePerHour: number | null
  r2: number | null
  points: number
  latest: { time: string; value: number } | null
  mean: number | null
  std: number | null
  zScore: number | null
  forecast: { threshold: number; at: string | null; r2: number | null } | null
}
type Body = {
  window: number
  step: number
  current: { from: string; to: string }
  previous: { from: string; to: string }
  series: Trend[]
}

let t: TestApp
let headers: Record<string, string>
beforeEach(async () => {
  t = await testApp()
  headers = (await t.key('viewer')).headers
})
afterEach(() => t.close())

async function trends(query: string) {
  const res = await t.app.request(`/api/v1/metrics/trends?${query}`, { headers })
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as Body
}

// Two hours of a point every 10 s: model a climbs 0.5 a minute, model b stays at 5.
function twoHours(): Sample[] {
  const out: Sample[] = []
  for (let ts = START; ts < END; ts += 10_000) {
    out.push({ name: 'llm_latency_ms', labels: { model: 'a' }, value: 10 + (0.5 * (ts - START)) / M, ts })
    out.push({ name: 'llm_latency_ms', labels: { model: 'b' }, value: 5, ts })
  }
  return out
}

describe('GET /api/v1/metrics/trends', () => {
  it('a climbing series: change, slope, z-score and forecast; a flat one: none; the same from rollups', async () => {
    await createMetricStore(t.db).write(twoHours(), END)
    const url = `name=llm_latency_ms&window=1h&threshold=100&to=${END + 20_000}`
    const body = await trends(url)
    expect(body).toMatchObject({ window: 3_600_000, step: M })
    // The windows end at the last whole step before `to`.
    expect(body.current).toEqual({ from: new Date(END - 3_600_000).toISOString(), to: new Date(END).toISOString() })
    expect(body.previous).toEqual({ from: new Date(START).toISOString(), to: new Date(END - 3_600_000).toISOString() })
    const a = body.series.find((s) => s.labels.model === 'a')!
    // Points sit 0–50 s into each minute, so a minute's average is its value 25 s in.
    const avgOver = (firstMinute: number) => 10 + 0.5 * (firstMinute + 29.5 + 25 / 60)
    expect(a.current).toBeCloseTo(avgOver(60), 9)
    expect(a.previous).toBeCloseTo(avgOver(0), 9)
    expect(a.change).toBeCloseTo(30, 9)
    expect(a.changePct).toBeCloseTo((30 / avgOver(0)) * 100, 9)
    expect(a.slopePerHour).toBeCloseTo(30, 9)
    expect(a.r2).toBeCloseTo(1, 9)
    expect(a.points).toBe(60)
    expect(a.latest!.time).toBe(new Date(END - M).toISOString())
    // 60 evenly spaced step values: population std is 0.5·√((60² − 1)/12); the last is 29.5 steps above the mean.
    expect(a.zScore).toBeCloseTo(29.5 / Math.sqrt((3600 - 1) / 12), 9)
    // The fitted line is 10 + 0.5·(minutes since START + 25 s): it reaches 100 at START + 180 min − 25 s.
    expect(a.forecast).toMatchObject({ threshold: 100 })
    expect(Date.parse(a.forecast!.at!)).toBeCloseTo(START + 180 * M - 25_000, -1)

    const b = body.series.find((s) => s.labels.model === 'b')!
    expect(b).toMatchObject({
      current: 5,
      previous: 5,
      change: 0,
      changePct: 0,
      slopePerHour: 0,
      r2: null,
      zScore: null,
      std: 0,
      points: 60,
      forecast: { threshold: 100, at: null },
    })

    // Once rolled up, the minutes come from 1m rollups and the answer is the same.
    await runRollups(t.db, END + 5 * M)
    const rolled = await trends(url)
    for (const model of ['a', 'b']) {
      const before = body.series.find((s) => s.labels.model === model)!
      const after = rolled.series.find((s) => s.labels.model === model)!
      for (const k of ['current', 'previous', 'change', 'slopePerHour', 'zScore'] as const) {
        if (before[k] === null) expect(after[k]).toBeNull()
        else expect(after[k]).toBeCloseTo(before[k]!, 9)
      }
    }
  })

  it('groups with by, sums, and flags a spike in the latest step', async () => {
    const samples: Sample[] = []
    for (let ts = END - 3_600_000; ts < END; ts += M) {
      const spike = ts === END - M
      for (const kind of ['timeout', 'refused'])
        samples.push({ name: 'agent_errors', labels: { agent: 'planner', kind }, value: spike ? 15.5 : 0.5, ts })
      samples.push({ name: 'agent_errors', labels: { agent: 'coder', kind: 'timeout' }, value: 2, ts })
    }
    await createMetricStore(t.db).write(samples, END)
    const body = await trends(`name=agent_errors&window=1h&agg=sum&by=agent&to=${END}`)
    expect(body.series).toHaveLength(2)
    const planner = body.series.find((s) => s.labels.agent === 'planner')!
    expect(planner.series).toBe(2)
    expect(planner.latest!.value).toBe(31)
    // 59 steps of 1 and one of 31: mean 1.5, population variance (59·0.25 + 29.5²)/60 = 14.75.
    expect(planner.mean).toBeCloseTo(1.5, 12)
    expect(planner.zScore).toBeCloseTo(29.5 / Math.sqrt(14.75), 9)
    expect(planner.current).toBeCloseTo(90, 9)
    expect(planner.previous).toBeNull() // nothing in the previous hour
    expect(planner.changePct).toBeNull()
    const coder = body.series.find((s) => s.labels.agent === 'coder')!
    expect(coder).toMatchObject({ current: 120, zScore: null, slopePerHour: 0 })
  })

  it('matches labels, answers no series for an unknown metric, and needs a viewer', async () => {
    await createMetricStore(t.db).write(twoHours(), END)
    const only = await trends(`name=llm_latency_ms&match[model]=b&to=${END}`)
    expect(only.series.map((s) => s.labels)).toEqual([{ model: 'b' }])
    expect((await trends(`name=nothing_here&to=${END}`)).series).toEqual([])
    expect((await t.app.request('/api/v1/metrics/trends?name=llm_latency_ms')).status).toBe(401)
  })

  it('refuses bad parameters with the field named', async () => {
    const cases: [string, string][] = [
      ['name=9x', 'name'],
      ['name=x&agg=median', 'agg'],
      ['name=x&window=soon', 'window'],
      ['name=x&window=30s', 'window'],
      ['name=x&window=1h&step=7m', 'step'],
      ['name=x&window=1h&step=40m', 'step'],
      ['name=x&window=30d&step=1s', 'step'],
      ['name=x&threshold=lots', 'threshold'],
      ['name=x&to=yesterday', 'to'],
      ['name=x&by=a,,b', 'by'],
      ['name=x&matchx=1', 'matchx'],
    ]
    for (const [query, field] of cases) {
      const res = await t.app.request(`/api/v1/metrics/trends?${query}`, { headers })
      expect(res.status, query).toBe(400)
      const body = (await res.json()) as { error: { details: { field: string }[] } }
      expect(
        body.error.details.map((d) => d.field),
        query,
      ).toContain(field)
    }
  })
})
