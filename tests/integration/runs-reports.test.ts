import { afterAll, describe, expect, it } from 'vitest'
import { roleHeaders, testApp } from '../helpers/app.ts'

type Json = Record<string, any>
const t = await testApp()
afterAll(() => t.close())
const { viewer, ingest } = await roleHeaders(t)
const MIN = 60_000
const T0 = Date.UTC(2020, 0, 1)
const q = (p: string) => `from=${T0}&to=${T0 + 86_400_000}${p}`
const get = async (path: string) => {
  const res = await t.app.request(path, { headers: viewer })
  return { status: res.status, body: (await res.json()) as Json }
}

/** A run of `team` with a planner (1 min) and a coder (`coderMin` min) that ended `status`. */
async function seed(id: string, team: string, i: number, coderMin: number, status: 'succeeded' | 'failed') {
  const start = T0 + i * 10 * MIN
  await t.json(
    'POST',
    '/api/v1/runs/batch',
    {
      runs: [{ id, labels: { team }, startedAt: start, endedAt: start + (1 + coderMin) * MIN, status }],
      tasks: [
        {
          runId: id,
          id: 'plan',
          role: 'planner',
          model: 'm-big',
          status: 'succeeded',
          startedAt: start,
          endedAt: start + MIN,
          costUsd: 0.1,
        },
        {
          runId: id,
          id: 'code',
          role: 'coder',
          model: 'm-small',
          status,
          attempt: status === 'failed' ? 2 : 1,
          startedAt: start + MIN,
          endedAt: start + (1 + coderMin) * MIN,
          costUsd: 0.2,
        },
      ],
    },
    ingest,
  )
}

await seed('multi-1', 'multi', 0, 2, 'succeeded')
await seed('multi-2', 'multi', 1, 4, 'succeeded')
await seed('multi-3', 'multi', 2, 6, 'failed')
await seed('single-1', 'single', 3, 3, 'failed')
await seed('single-2', 'single', 4, 5, 'succeeded')
for (const [run, error, endedAt] of [
  ['multi-3', 'FAILED tests/test_a.py::test_x - assert 1 == 2', T0 + 27 * MIN],
  ['single-1', 'HTTP 429 Too Many Requests', T0 + 34 * MIN],
] as const) {
  const res = await t.json('POST', `/api/v1/runs/${run}/tasks/code/failed`, { error, attempt: 2, endedAt }, ingest)
  expect(res.status).toBe(200)
}

describe('/api/v1/run-reports', () => {
  it('success rate, attempts, durations and cost by role, model and label; top failure classes and their trend', async () => {
    const { status, body } = await get(`/api/v1/run-reports?${q('&by=team')}`)
    expect(status).toBe(200)
    expect(body.runs).toMatchObject({
      runs: 5,
      succeeded: 3,
      failed: 2,
      successRate: 0.6,
      costUsd: 1.5,
      costPerRunUsd: 0.3,
    })
    // Run durations 3, 4, 5, 6, 7 min: p50 the 3rd, p95 the 5th.
    expect(body.runs.durationMs).toEqual({ p50: 5 * MIN, p95: 7 * MIN })
    const coder = body.byRole.find((r: Json) => r.role === 'coder')
    expect(coder).toMatchObject({
      tasks: 5,
      succeeded: 3,
      failed: 2,
      successRate: 0.6,
      attemptsPerTask: 1.4,
      costUsd: 1,
    })
    expect(coder.durationMs).toEqual({ p50: 4 * MIN, p95: 6 * MIN })
    expect(body.byRole.find((r: Json) => r.role === 'planner')).toMatchObject({
      successRate: 1,
      durationMs: { p50: MIN },
    })
    expect(body.byModel.map((m: Json) => m.model).sort()).toEqual(['m-big', 'm-small'])
    expect(body.byLabel.values).toEqual([
      { value: 'multi', runs: 3, succeeded: 2, successRate: 0.6667, costPerRunUsd: 0.3 },
      { value: 'single', runs: 2, succeeded: 1, successRate: 0.5, costPerRunUsd: 0.3 },
    ])
    expect(body.failureClasses.top).toEqual([
      { class: 'rate_limit', count: 1 },
      { class: 'test_failure', count: 1 },
    ])
    expect(body.failureClasses.trend.map((x: Json) => x.day)).toEqual([
      new Date().toISOString().slice(0, 10),
      new Date().toISOString().slice(0, 10),
    ])
  })

  it('a label narrows the report', async () => {
    const { body } = await get(`/api/v1/run-reports?${q('&label=team:single')}`)
    expect(body.runs).toMatchObject({ runs: 2, succeeded: 1 })
    expect(body.label).toBe('team:single')
  })

  it('compares two labels and two periods', async () => {
    const { body } = await get(`/api/v1/run-reports/compare?${q('&a=team:multi&b=team:single')}`)
    expect(body.a.runs).toMatchObject({ runs: 3, successRate: 0.6667 })
    expect(body.b.runs).toMatchObject({ runs: 2, successRate: 0.5 })
    expect(body.difference.successRate).toBeCloseTo(0.1667, 4)
    const first = `${new Date(T0).toISOString()}..${new Date(T0 + 25 * MIN).toISOString()}`
    const second = `${T0 + 25 * MIN}..${T0 + 60 * MIN}`
    const periods = await get(`/api/v1/run-reports/compare?a=${first}&b=${second}`)
    expect(periods.body.a.runs.runs).toBe(3)
    expect(periods.body.b.runs.runs).toBe(2)
  })

  it('names bad query fields', async () => {
    const bad = await get('/api/v1/run-reports/compare?a=nonsense&b=2020-01-02..2020-01-01&x=1')
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.map((d: Json) => d.field).sort()).toEqual(['a', 'b', 'x'])
    const order = await get(`/api/v1/run-reports?from=${T0 + 1}&to=${T0}`)
    expect(order.status).toBe(400)
    expect(order.body.error.details[0].field).toBe('from')
    expect((await t.app.request('/api/v1/run-reports', { headers: ingest })).status).toBe(403)
  })

  it('counts a task recorded failed with an error (OTLP, a batch) as much as a failure report, once', async () => {
    const day2 = T0 + 2 * 86_400_000
    const task = (id: string, error: string) => ({
      runId: 'batch-failed',
      id,
      role: 'coder',
      status: 'failed',
      error,
      startedAt: day2,
      endedAt: day2 + MIN,
    })
    const batch = {
      runs: [{ id: 'batch-failed', startedAt: day2 }],
      tasks: [task('a', 'SyntaxError: invalid syntax (main.py, line 3)'), task('b', 'HTTP 429 Too Many Requests')],
    }
    expect((await t.json('POST', '/api/v1/runs/batch', batch, ingest)).status).toBe(200)
    // A failure report for b's attempt: counted once, not twice.
    const res = await t.json('POST', '/api/v1/runs/batch-failed/tasks/b/failed', { error: 'HTTP 429' }, ingest)
    expect(res.status).toBe(200)
    const { body } = await get(`/api/v1/run-reports?from=${day2}&to=${day2 + 86_400_000}`)
    expect(body.failureClasses.top).toEqual([
      { class: 'rate_limit', count: 1 },
      { class: 'syntax', count: 1 },
    ])
    expect(body.failureClasses.trend).toContainEqual({
      day: new Date(day2).toISOString().slice(0, 10),
      class: 'syntax',
      count: 1,
    })
  })
})
