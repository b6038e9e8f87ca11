import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { alertEvents, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { testApp } from '../helpers/app.ts'

// Each kind of rule fires and resolves on points really stored, evaluated with a fake clock.
const t = await testApp()
afterAll(() => t.close())
const op = await t.key('operator')
const store = createMetricStore(t.db)
const evaluator = t.services.alerts
const T = Date.UTC(2026, 0, 5, 12, 0, 0)
const MIN = 60_000

const write = (name: string, labels: Record<string, string>, points: [number, number][]) =>
  store.write(
    points.map(([ts, value]) => ({ name, labels, value, ts })),
    T,
  )

async function rule(body: Record<string, unknown>) {
  const res = await t.json('POST', '/api/v1/alert-rules', body, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as { id: string; warnings: string[] }
}
const alertsOf = (ruleId: string) =>
  t.db.select(storedAlert).from(alerts).where(eq(alerts.ruleId, ruleId)).orderBy(alerts.id)
const eventsOf = async (alertId: string) =>
  (await t.db.select().from(alertEvents).where(eq(alertEvents.alertId, alertId)).orderBy(alertEvents.id)).map(
    (e) => e.type,
  )
async function disable(id: string) {
  expect(
    (await t.app.request(`/api/v1/alert-rules/${id}/disable`, { method: 'POST', headers: op.headers })).status,
  ).toBe(200)
}

describe('threshold, by labels', () => {
  it('fires one alert per label set that breaches and resolves when the value drops', async () => {
    await write('latency_ms', { agent: 'a' }, [[T - MIN, 150]])
    await write('latency_ms', { agent: 'b' }, [[T - MIN, 50]])
    const r = await rule({
      name: 'slow agents',
      kind: 'threshold',
      metric: 'latency_ms',
      by: ['agent'],
      agg: 'avg',
      window: '5m',
      comparator: '>',
      value: 100,
      severity: 'error',
      summary: '{{labels.agent}} at {{value}} ms ({{rule.name}})',
    })
    await evaluator.evaluateAll(T)
    let list = await alertsOf(r.id)
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({
      status: 'firing',
      severity: 'error',
      value: 150,
      labels: { alertname: 'slow agents', agent: 'a' },
      title: 'a at 150 ms (slow agents)',
      repeatCount: 1,
    })
    await write('latency_ms', { agent: 'b' }, [[T + MIN, 500]])
    await evaluator.evaluateAll(T + 2 * MIN)
    list = await alertsOf(r.id)
    expect(list.map((a) => [a.labels.agent, a.status])).toEqual([
      ['a', 'firing'],
      ['b', 'firing'],
    ])
    expect(list[0]!.repeatCount).toBe(2) // evaluations count, without a `repeated` event each
    expect(await eventsOf(list[0]!.id)).toEqual(['created', 'fired'])
    await write('latency_ms', { agent: 'a' }, [[T + 6 * MIN, 10]])
    await evaluator.evaluateAll(T + 7 * MIN)
    list = await alertsOf(r.id)
    expect(list.map((a) => [a.labels.agent, a.status])).toEqual([
      ['a', 'resolved'],
      ['b', 'resolved'],
    ])
    expect(list[0]!.endsAt).toBe(T + 7 * MIN)
    expect(await eventsOf(list[0]!.id)).toEqual(['created', 'fired', 'resolved'])
    await disable(r.id)
  })
})

describe('for and keepFiringFor', () => {
  it('stays pending until the condition has held for `for`, then fires', async () => {
    await write('queue_depth', {}, [
      [T - 30_000, 50],
      [T + 50_000, 50],
      [T + 110_000, 50],
    ])
    const r = await rule({
      name: 'queue backing up',
      kind: 'threshold',
      metric: 'queue_depth',
      agg: 'max',
      window: '5m',
      comparator: '>=',
      value: 50,
      for: '2m',
    })
    await evaluator.evaluateAll(T)
    expect((await alertsOf(r.id))[0]).toMatchObject({ status: 'pending', activeAt: T, startsAt: null })
    await evaluator.evaluateAll(T + MIN)
    expect((await alertsOf(r.id))[0]!.status).toBe('pending')
    await evaluator.evaluateAll(T + 2 * MIN)
    const [a] = await alertsOf(r.id)
    expect(a).toMatchObject({ status: 'firing', activeAt: T, startsAt: T + 2 * MIN })
    expect(await eventsOf(a!.id)).toEqual(['created', 'pending', 'fired'])
    await disable(r.id)
  })

  it('a pending alert whose condition stops holding is resolved without firing', async () => {
    await write('flappy', {}, [[T - 30_000, 9]])
    const r = await rule({
      name: 'flappy',
      kind: 'threshold',
      metric: 'flappy',
      agg: 'last',
      window: '1m',
      comparator: '>',
      value: 5,
      for: '5m',
    })
    await evaluator.evaluateAll(T)
    await evaluator.evaluateAll(T + 2 * MIN) // the point left the window
    const [a] = await alertsOf(r.id)
    expect(a!.status).toBe('resolved')
    expect(await eventsOf(a!.id)).toEqual(['created', 'pending', 'resolved'])
    await disable(r.id)
  })

  it('keeps firing for keepFiringFor after the condition stops, then resolves', async () => {
    await write('temp', {}, [[T - 30_000, 90]])
    const r = await rule({
      name: 'hot',
      kind: 'threshold',
      metric: 'temp',
      agg: 'avg',
      window: '1m',
      comparator: '>',
      value: 80,
      keepFiringFor: '5m',
    })
    await evaluator.evaluateAll(T)
    expect((await alertsOf(r.id))[0]!.status).toBe('firing')
    await evaluator.evaluateAll(T + 3 * MIN) // no data in the window: the condition does not hold
    expect((await alertsOf(r.id))[0]!.status).toBe('firing')
    await evaluator.evaluateAll(T + 5 * MIN)
    expect((await alertsOf(r.id))[0]).toMatchObject({ status: 'resolved', endsAt: T + 5 * MIN })
    await disable(r.id)
  })
})

describe('ratio', () => {
  it('errors ÷ requests above 5% fires for that component only', async () => {
    await write('agent_requests_total', { component: 'c1' }, [
      [T - MIN, 60],
      [T - 2 * MIN, 40],
    ])
    await write('agent_errors_total', { component: 'c1' }, [[T - MIN, 10]])
    await write('agent_requests_total', { component: 'c2' }, [[T - MIN, 100]])
    await write('agent_errors_total', { component: 'c2' }, [[T - MIN, 1]])
    const r = await rule({
      name: 'error rate',
      kind: 'ratio',
      metric: 'agent_errors_total',
      params: { denominator: 'agent_requests_total' },
      by: ['component'],
      agg: 'sum',
      window: '5m',
      comparator: '>',
      value: 0.05,
    })
    await evaluator.evaluateAll(T)
    const list = await alertsOf(r.id)
    expect(list.map((a) => [a.labels.component, a.value, a.status])).toEqual([['c1', 0.1, 'firing']])
    await evaluator.evaluateAll(T + 10 * MIN)
    expect((await alertsOf(r.id))[0]!.status).toBe('resolved')
    await disable(r.id)
  })
})

describe('change', () => {
  it('against the previous window, in percent', async () => {
    await write('signups', {}, [
      [T - 90 * MIN, 10],
      [T - 10 * MIN, 30],
    ])
    const r = await rule({
      name: 'signup jump',
      kind: 'change',
      metric: 'signups',
      agg: 'sum',
      window: '1h',
      params: { compareTo: 'previous' },
      comparator: '>',
      value: 100,
    })
    await evaluator.evaluateAll(T)
    expect((await alertsOf(r.id))[0]).toMatchObject({ status: 'firing', value: 200 })
    await write('signups', {}, [[T + 30 * MIN, 1]])
    await evaluator.evaluateAll(T + 60 * MIN) // now 31 against 30: +3%
    expect((await alertsOf(r.id))[0]!.status).toBe('resolved')
    await disable(r.id)
  })

  it("the cost spike template: the last hour against 3× the previous day's hourly mean", async () => {
    const templates = (await (await t.app.request('/api/v1/alert-rule-templates', { headers: op.headers })).json()) as {
      items: { id: string; rule: Record<string, unknown> }[]
    }
    expect(templates.items.map((x) => x.id)).toEqual([
      'health-degradation',
      'high-error-rate',
      'prompt-performance-drop',
      'cost-spike',
      'rag-ingestion-failure',
    ])
    const day: [number, number][] = Array.from({ length: 24 }, (_, k) => [T - (k + 1) * 60 * MIN - 30 * MIN, 1])
    await write('llm_cost_usd', { model: 'gpt-4o' }, [...day, [T - 20 * MIN, 2], [T - 10 * MIN, 2.5]])
    const r = await rule(templates.items.find((x) => x.id === 'cost-spike')!.rule)
    await evaluator.evaluateAll(T)
    const [a] = await alertsOf(r.id)
    expect(a).toMatchObject({ status: 'firing', value: 4.5, title: 'LLM cost is 4.5× the usual hourly cost' })
    await disable(r.id)
  })
})

describe('absence', () => {
  it('a matching series with no point for N minutes fires; a new point resolves it', async () => {
    await write('heartbeat', { job: 'worker-1' }, [[T - MIN, 1]])
    await write('heartbeat', { job: 'worker-2' }, [[T - 10 * MIN, 1]])
    await write('heartbeat', { job: 'other' }, [[T - 10 * MIN, 1]])
    const r = await rule({
      name: 'worker silent',
      kind: 'absence',
      metric: 'heartbeat',
      matchers: [{ label: 'job', op: '=~', value: 'worker-.*' }],
      params: { minutes: 5 },
      severity: 'critical',
    })
    await evaluator.evaluateAll(T)
    let list = await alertsOf(r.id)
    expect(list.map((a) => [a.labels.job, a.status])).toEqual([['worker-2', 'firing']])
    await write('heartbeat', { job: 'worker-2' }, [[T + MIN, 1]])
    await write('heartbeat', { job: 'worker-1' }, [[T + MIN, 1]])
    await evaluator.evaluateAll(T + 2 * MIN)
    list = await alertsOf(r.id)
    expect(list.map((a) => [a.labels.job, a.status])).toEqual([['worker-2', 'resolved']])
    await disable(r.id)
  })

  it("a metric with no series at all fires once, with the matchers' fixed labels", async () => {
    const r = await rule({
      name: 'backup never ran',
      kind: 'absence',
      metric: 'backup_done',
      matchers: [{ label: 'db', op: '=', value: 'main' }],
      params: { minutes: 60 },
    })
    expect(r.warnings).toEqual(['metric backup_done has no series yet; the rule will match once it is written'])
    await evaluator.evaluateAll(T)
    const list = await alertsOf(r.id)
    expect(list.map((a) => [a.labels, a.status])).toEqual([[{ alertname: 'backup never ran', db: 'main' }, 'firing']])
    await disable(r.id)
  })
})

describe('anomaly', () => {
  it("a last minute far from the window's spread fires; back to normal resolves", async () => {
    const normal: [number, number][] = Array.from({ length: 28 }, (_, k) => [
      T - (k + 2) * MIN + 5000,
      10 + (k % 3) - 1,
    ])
    await write('rps', { svc: 'api' }, [...normal, [T - 30_000, 50]])
    const r = await rule({
      name: 'rps anomaly',
      kind: 'anomaly',
      metric: 'rps',
      by: ['svc'],
      agg: 'avg',
      window: '30m',
      params: { zScore: 3, step: '1m' },
    })
    await evaluator.evaluateAll(T)
    const [a] = await alertsOf(r.id)
    expect(a!.status).toBe('firing')
    expect(a!.value).toBeGreaterThan(3)
    await write('rps', { svc: 'api' }, [[T + 30_000, 10]])
    await evaluator.evaluateAll(T + MIN)
    expect((await alertsOf(r.id))[0]!.status).toBe('resolved')
    await disable(r.id)
  })
})

describe('the alert-evaluation job', () => {
  it('is registered every 15 s and evaluates enabled rules at its now', async () => {
    expect((await t.scheduler.status()).jobs.find((j) => j.name === 'alert-evaluation')).toMatchObject({
      schedule: '*/15 * * * * *',
    })
    const { alertEvaluationJob } = await import('../../jobs/alerts.ts')
    const job = alertEvaluationJob(t.services)
    expect(job.schedule).toBe('*/15 * * * * *')
    await write('disk_free', {}, [[T - 10_000, 1]])
    const r = await rule({
      name: 'disk',
      kind: 'threshold',
      metric: 'disk_free',
      agg: 'min',
      window: '1m',
      comparator: '<',
      value: 5,
    })
    const { createLogger } = await import('../../app/lib/logger.ts')
    const counts = await job.handler({ now: T, tick: T, log: createLogger('silent') })
    expect(counts).toMatchObject({ changes: 1, failed: 0 })
    expect((await alertsOf(r.id))[0]!.status).toBe('firing')
    await disable(r.id)
    expect((await alertsOf(r.id))[0]!.status).toBe('resolved')
  })
})
