import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { componentChecksJob } from '../../jobs/components.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { httpTarget } from '../helpers/http-target.ts'

type Json = Record<string, any>
let t: TestApp
let target: Awaited<ReturnType<typeof httpTarget>>
let op: Record<string, string>
let viewer: Record<string, string>
const MIN = 60_000
const HOUR = 60 * MIN
const now = Date.now()

beforeAll(async () => {
  t = await testApp()
  target = await httpTarget()
  op = (await t.key('operator')).headers
  viewer = (await t.key('viewer')).headers
  const make = async (body: Json) => (await (await t.json('POST', '/api/v1/components', body, op)).json()) as Json
  const planner = await make({ name: 'ov-planner', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
  const coder = await make({ name: 'ov-coder', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
  await make({ name: 'ov-web', kind: 'service', http: { url: target.url('/ok'), timeoutMs: 2000 } })
  await make({ name: 'ov-new', kind: 'database', push: { expectedIntervalSeconds: 600 } })
  await t.app.request(`/api/v1/push/${planner.push.token}?status=up`)
  await t.app.request(`/api/v1/push/${coder.push.token}?status=down&msg=stuck`)
  await componentChecksJob({
    db: t.db,
    store: t.services.statusStore,
    outbound: t.services.outbound,
    historyDays: 90,
    onOutcome: t.services.reportBreakerOutcome,
  }).handler({
    now: Date.now(),
    tick: now,
    log: createLogger('silent'),
  })
  await t.json('POST', '/api/v1/prices', { model: 'gpt-ov', promptPer1M: 2, completionPer1M: 8 }, op)

  const at = (ago: number) => now - ago
  const planner_ = { component: 'ov-planner' }
  const points = [
    { name: 'agent_requests_total', value: 10, ts: at(3 * HOUR), labels: planner_ },
    { name: 'agent_requests_total', value: 10, ts: at(20 * MIN), labels: { ...planner_, route: 'b' } },
    { name: 'agent_errors_total', value: 1, ts: at(20 * MIN), labels: planner_ },
    { name: 'agent_requests_total', value: 1000, ts: at(30 * HOUR), labels: planner_ }, // outside 24h, inside 7d
    { name: 'agent_requests_total', value: 4, ts: at(2 * HOUR), labels: { component: 'ov-coder' } },
    ...Array.from({ length: 100 }, (_, i) => ({
      name: 'llm_latency_ms',
      value: i + 1,
      ts: at(2 * HOUR) + i * 1000,
      labels: planner_,
    })),
    { name: 'llm_tokens_total', value: 1000, ts: at(HOUR), labels: { ...planner_, model: 'gpt-ov', kind: 'prompt' } },
    {
      name: 'llm_tokens_total',
      value: 500,
      ts: at(HOUR),
      labels: { ...planner_, model: 'gpt-ov', kind: 'completion' },
    },
    { name: 'llm_tokens_total', value: 1000, ts: at(HOUR), labels: { model: 'gpt-ov', kind: 'prompt' } }, // no component: totals only
  ]
  const res = await t.json('POST', '/api/v1/metrics', { points }, op)
  expect(res.status).toBe(200)
})
afterAll(async () => {
  await target.close()
  t.close()
})

const get = async (range = '24h') => {
  const res = await t.app.request(`/api/v1/metrics/overview?range=${range}`, { headers: viewer })
  expect(res.status).toBe(200)
  return (await res.json()) as Json
}
const byName = (o: Json) => Object.fromEntries(o.components.map((c: Json) => [c.name, c]))

function expectFigures(o: Json) {
  const c = byName(o)
  expect(c['ov-planner']).toMatchObject({
    status: 'up',
    requests: 20,
    errors: 1,
    errorRate: 0.05,
    tokens: 1500,
    costUsd: 0.006,
    latencyMetric: 'llm_latency_seconds', // pushed as llm_latency_ms (the old name, read through the alias)
  })
  expect(Math.abs(c['ov-planner'].p95LatencyMs - 95) / 95).toBeLessThan(0.011)
  expect(c['ov-coder']).toMatchObject({
    status: 'down',
    message: 'stuck',
    requests: 4,
    errors: null,
    errorRate: 0,
    tokens: null,
    costUsd: null,
    p95LatencyMs: null,
  })
  expect(c['ov-web']).toMatchObject({
    status: 'up',
    check: 'http',
    latencyMetric: 'check_duration_seconds',
    requests: null,
    errorRate: null,
  })
  expect(c['ov-web'].p95LatencyMs).toBeGreaterThanOrEqual(0)
  expect(c['ov-new']).toMatchObject({ status: 'unknown', uptime: null })
  expect(c['ov-planner'].uptime).toBe(100)
  expect(c['ov-coder'].uptime).toBe(0)
  expect(o.totals).toMatchObject({
    components: 4,
    up: 2,
    down: 1,
    unknown: 1,
    tokens: 2500,
    costUsd: 0.008,
    requests: 24,
    errors: 1,
  })
}

describe('GET /api/v1/metrics/overview', () => {
  it('per component: status, uptime, error rate, p95, tokens, cost; totals over every series', async () => {
    const o = await get()
    expect(o.range).toBe('24h')
    expect(Date.parse(o.to) - Date.parse(o.from)).toBeGreaterThanOrEqual(24 * HOUR)
    expect(o.components.map((c: Json) => c.name)).toEqual(['ov-coder', 'ov-new', 'ov-planner', 'ov-web'])
    expectFigures(o)
  })

  it('gives the same figures once rollups serve the range', async () => {
    const counts = await runRollups(t.db, Date.now())
    expect(counts.buckets).toBeGreaterThan(0)
    expectFigures(await get())
  })

  it('a longer range includes older points; the range is validated', async () => {
    expect(byName(await get('7d'))['ov-planner'].requests).toBe(1020)
    for (const bad of ['1y', '1m', '100d', 'soon']) {
      const res = await t.app.request(`/api/v1/metrics/overview?range=${bad}`, { headers: viewer })
      expect(res.status, bad).toBe(400)
      expect(((await res.json()) as Json).error.details[0].field).toBe('range')
    }
    expect((await t.app.request('/api/v1/metrics/overview')).status).toBe(401)
  })
})

describe('Overview page', () => {
  it('the front page shows a card per component with its figures; the overview fragment still answers', async () => {
    const s = await t.session('viewer')
    const page = await (await t.app.request('/', { headers: s.headers })).text()
    expect(page).toContain('id="tile-fleet"')
    expect(page).toContain('hx-get="/front/tiles/fleet?range=24h"')
    expect(page).toContain('data-component="ov-planner"')
    expect(page).toContain('href="/components"') // in the navigation
    const fragment = await t.app.request('/overview/components?range=24h', {
      headers: { ...s.headers, 'HX-Request': 'true' },
    })
    expect(fragment.status).toBe(200)
    const html = await fragment.text()
    expect(html.startsWith('<section id="component-tiles"')).toBe(true)
    expect(html).not.toContain('<html')
    expect(html).toMatch(/data-total="cost">\$0\.0080</)
    expect(html).toMatch(/data-total="tokens">2500</)
    for (const text of ['ov-coder', 'stuck', '100.00%', '5.00%', '$0.0060']) expect(html).toContain(text)
  })
})
