import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runRollups } from '../../app/modules/metrics/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
const H = 3_600_000
const S = (ms: number) => ms / 1000

let t: TestApp
let headers: Record<string, string>
beforeAll(async () => {
  t = await testApp()
  headers = (await t.key('viewer')).headers
  const ingest = (await t.key('operator', ['ingest'])).headers
  // Three hours, one point a minute: a cost of 0.01 each, and a latency of 1…60 within each hour.
  const points = []
  for (let m = 0; m < 180; m++) {
    const ts = T0 + m * 60_000
    points.push(
      { name: 'llm_cost_usd', value: 0.01, labels: { model: 'm1' }, ts },
      { name: 'llm_latency_ms', value: (m % 60) + 1, labels: { model: 'm1' }, ts },
    )
  }
  for (let i = 0; i < points.length; i += 100) {
    const res = await t.json('POST', '/api/v1/metrics', { points: points.slice(i, i + 100) }, ingest)
    expect(res.status).toBe(200)
  }
  await runRollups(t.db, T0 + 3 * H + 5 * 60_000)
  // As if the raw points' retention had passed: only the rollups are left.
  await t.db.run(sql`delete from point_chunks`)
  await t.db.run(sql`delete from point_batches`)
})
afterAll(() => t.close())

async function range(query: string, start: number, end: number, step: string) {
  const res = await t.app.request(
    `/api/v1/query_range?query=${encodeURIComponent(query)}&start=${S(start)}&end=${S(end)}&step=${step}`,
    { headers },
  )
  const body = (await res.json()) as { data: { result: { metric: object; values: [number, string][] }[] } }
  expect(res.status, JSON.stringify(body)).toBe(200)
  return body.data.result
}

describe('*_over_time over whole step buckets reads the rollups', () => {
  it('sum and count over [1h] at hour-aligned steps come from the hourly rollups', async () => {
    const [cost] = await range('sum by (model) (sum_over_time(llm_cost_usd[1h]))', T0 + H, T0 + 3 * H, '1h')
    expect(cost!.metric).toEqual({ model: 'm1' })
    expect(cost!.values.map(([at]) => at)).toEqual([S(T0 + H), S(T0 + 2 * H), S(T0 + 3 * H)])
    for (const [, v] of cost!.values) expect(Number(v)).toBeCloseTo(0.6, 9)
    const [n] = await range('count_over_time(llm_latency_ms[1h])', T0 + H, T0 + 3 * H, '3600')
    expect(n!.values.map(([, v]) => v)).toEqual(['60', '60', '60'])
  })
  it('min, max, avg and last are exact; quantiles come from the sketch (within its 0.5 %)', async () => {
    const one = async (fn: string) => Number((await range(fn, T0 + H, T0 + H, '1h'))[0]!.values[0]![1])
    expect(await one('min_over_time(llm_latency_ms[1h])')).toBe(1)
    expect(await one('max_over_time(llm_latency_ms[1h])')).toBe(60)
    expect(await one('avg_over_time(llm_latency_ms[1h])')).toBe(30.5)
    expect(await one('last_over_time(llm_latency_ms[1h])')).toBe(60)
    const p95 = await one('quantile_over_time(0.95, llm_latency_ms[1h])')
    expect(Math.abs(p95 - 57) / 57).toBeLessThan(0.03) // the 95th of 1…60 is 57.05; the sketch picks a rank
  })
  it('minute steps read the minute rollups', async () => {
    const [cost] = await range('sum_over_time(llm_cost_usd[1m])', T0 + 60_000, T0 + 5 * 60_000, '1m')
    expect(cost!.values.map(([, v]) => Number(v))).toEqual([0.01, 0.01, 0.01, 0.01, 0.01])
  })
  it('a window that is not one whole bucket reads raw points, which are gone here', async () => {
    expect(await range('sum_over_time(llm_cost_usd[1h])', T0 + H + 30 * 60_000, T0 + H + 30 * 60_000, '1h')).toEqual([])
    expect(await range('sum_over_time(llm_cost_usd[90s])', T0 + H, T0 + 2 * H, '1h')).toEqual([])
  })
})
