/**
 * Workflow health against the local stand-in of n8n's API (tests/helpers/fake-n8n.ts) with a fake
 * clock: incremental polling and its request counts, failure classes and users' rules, missed
 * schedules, deactivations, an unreachable instance, the metrics, the API's roles and bad inputs,
 * and the pages.
 */
import { createServer } from 'node:net'
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { series } from '../../db/schema/metrics.ts'
import { n8nExecutions } from '../../db/schema/n8n.ts'
import { createWorkflowHealth } from '../../app/modules/n8n/index.ts'
import { n8nPollJob } from '../../jobs/n8n-poll.ts'
import { testApp } from '../helpers/app.ts'
import { type FakeExecution, startFakeN8n } from '../helpers/fake-n8n.ts'

const KEY = 'n8n-api-key-for-health-tests'
const MIN = 60_000
const t = await testApp({ N8N_POLL_MAX_RPS: '100', N8N_DEFAULT_TIMEZONE: 'UTC' })
// An n8n that tells its version before sign-in (1.123 does not: its version then shows as unknown).
const n8n = await startFakeN8n({ apiKey: KEY, publicVersion: '1.99.0' })
afterAll(async () => {
  await n8n.close()
  t.close()
})
const admin = await t.key('admin')
const op = await t.key('operator')
const viewer = await t.key('viewer')

async function addInstance(name: string, baseUrl: string) {
  const res = await t.json('POST', '/api/v1/healing/n8n-instances', { name, baseUrl, apiKey: KEY }, admin.headers)
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}
const inst = await addInstance('prod', n8n.url)
const get = async (path: string, headers = viewer.headers) => {
  const res = await t.app.request(path, { headers })
  return { status: res.status, body: (await res.json()) as any }
}
const health = t.services.workflowHealth
/** The same service with a 5 ms backoff, for the tests that make n8n answer errors. */
const backoff = createWorkflowHealth({
  ...t.services,
  alerts: t.services.alerts,
  metrics: t.services.metricStore,
  log: t.services.log,
  maxRps: 100,
  graceMs: 5 * MIN,
  failingAfter: 3,
  degradedRate: 0.2,
  defaultTimezone: 'UTC',
  retentionDays: 30,
  backoffMs: 5,
})
// The API reads rates over the last 24 h of the real clock: the fake one starts now and moves ahead from there.
let now = Math.floor(Date.now() / MIN) * MIN
const iso = (ms: number) => new Date(ms).toISOString()
const apiCalls = (path: string, from: number) => n8n.requests.slice(from).filter((r) => r.path === path).length

const every5 = {
  nodes: [
    {
      id: 's',
      name: 'Every 5 min',
      type: 'n8n-nodes-base.scheduleTrigger',
      typeVersion: 1.2,
      position: [0, 0],
      parameters: { rule: { interval: [{ field: 'minutes', minutesInterval: 5 }] } },
    },
    {
      id: 'h',
      name: 'Call CRM',
      type: 'n8n-nodes-base.httpRequest',
      typeVersion: 4.2,
      position: [200, 0],
      parameters: {},
    },
  ],
  settings: { executionOrder: 'v1', timezone: 'UTC' },
}
const webhook = {
  nodes: [{ id: 'w', name: 'Hook', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], parameters: {} }],
}
n8n.addWorkflow('w1', 'Sync CRM', true, every5)
n8n.addWorkflow('w2', 'Inbound hook', true, webhook)

let nextId = 1
/** An execution that ran at `at` for 2 s; failures carry n8n's run data with the error on the node. */
function run(workflowId: string, at: number, status = 'success', error?: Record<string, unknown>, node = 'Call CRM') {
  const id = String(nextId++)
  const more: Partial<FakeExecution> = { startedAt: iso(at), stoppedAt: iso(at + 2000), mode: 'trigger' }
  if (error) {
    const full = { ...error, node: { name: node, type: 'n8n-nodes-base.httpRequest' } }
    more.data = {
      resultData: { runData: { [node]: [{ startTime: at, error: full }] }, lastNodeExecuted: node, error: full },
    }
  }
  n8n.addExecution(id, status, workflowId, more)
  return id
}
const poll = async () => (await health.poll(now, inst))[0]!
const openAlerts = async (alertname: string) =>
  (await t.db.select().from(alerts).where(eq(alerts.source, 'n8n'))).filter(
    (a) => a.labels.alertname === alertname && a.status !== 'resolved',
  )
const workflow = async (id: string) => (await get(`/api/v1/n8n/health/workflows/${id}?instance=${inst}`)).body

describe('polling', () => {
  it('reads every execution on the first poll, then one request per page while nothing is new', async () => {
    for (let i = 0; i < 600; i++) run(i % 2 ? 'w1' : 'w2', now - (600 - i) * 10_000)
    const before = n8n.requests.length
    const first = await poll()
    expect(first).toMatchObject({ reachable: true, workflows: 2, executions: 600, classified: 0 })
    expect(apiCalls('/api/v1/executions', before)).toBe(3) // 250 + 250 + 100
    const mark = n8n.requests.length
    now += MIN
    const second = await poll()
    expect(second.executions).toBe(0)
    expect(apiCalls('/api/v1/executions', mark)).toBe(1)
    // The workflows list (for active states and triggers) is the only other call; the version is kept an hour.
    expect(second.calls).toBe(2)
    const w1 = await workflow('w1')
    expect(w1).toMatchObject({ state: 'healthy', executions: { success: 300 }, successRate24h: 1 })
    expect(w1.durationMs['24h']).toMatchObject({ count: 300, p50: 2000, p95: 2000 })
  })

  it('reads only what is new, and catches an execution that was running when listed', async () => {
    run('w1', now - 20_000)
    const running = String(nextId++)
    n8n.addExecution(running, 'running', 'w1', { startedAt: iso(now - 5000) })
    run('w1', now - 1000)
    const mark = n8n.requests.length
    expect((await poll()).executions).toBe(2)
    expect(apiCalls('/api/v1/executions', mark)).toBe(1)
    n8n.updateExecution(running, { status: 'success', stoppedAt: iso(now + 30_000) })
    now += MIN
    expect((await poll()).executions).toBe(1)
    expect((await workflow('w1')).executions.success).toBe(303)
  })

  it('records the counters and durations as metrics rules and charts can use', async () => {
    const names = new Set(
      (await t.db.select().from(series)).filter((s) => s.name.startsWith('n8n_')).map((s) => s.name),
    )
    expect([...names].sort()).toEqual(['n8n_workflow_duration_seconds', 'n8n_workflow_executions_total'])
    const total = (await t.db.select().from(series).where(eq(series.name, 'n8n_workflow_executions_total'))).map(
      (s) => s.labels,
    )
    expect(total).toContainEqual({ instance: 'prod', workflow: 'Sync CRM', workflow_id: 'w1', status: 'success' })
  })

  it('backs off on 429 and 5xx and still reads the page', async () => {
    n8n.failNext(429)
    n8n.failNext(503)
    const mark = n8n.requests.length
    const [r] = await backoff.poll(now, inst)
    expect(r).toMatchObject({ reachable: true })
    expect(n8n.requests.length - mark).toBe(4) // two refused, then the workflows and executions lists
  })
})

describe('failure classes', () => {
  it('classifies a failure from its data (fetched once) and raises n8n_execution_failed with the class', async () => {
    const id = run('w1', now + 1000, 'error', {
      name: 'NodeApiError',
      httpCode: '401',
      message: 'Authorization failed - please check your credentials',
    })
    now += MIN
    const mark = n8n.requests.length
    expect((await poll()).classified).toBe(1)
    expect(apiCalls(`/api/v1/executions/${id}`, mark)).toBe(1)
    const [row] = await t.db.select().from(n8nExecutions).where(eq(n8nExecutions.id, id))
    expect(row).toMatchObject({ failureClass: 'credentials', failingNode: 'Call CRM', httpCode: 401 })
    const [alert] = await openAlerts('n8n_execution_failed')
    expect(alert).toMatchObject({ severity: 'critical', status: 'firing' })
    expect(alert!.labels).toMatchObject({
      instance: 'prod',
      workflow: 'Sync CRM',
      class: 'credentials',
      node: 'Call CRM',
    })
    now += MIN
    await poll()
    expect(apiCalls(`/api/v1/executions/${id}`, mark)).toBe(1) // never fetched again
  })

  it('resolves the failure alert on the next success', async () => {
    run('w1', now + 1000)
    now += MIN
    await poll()
    expect(await openAlerts('n8n_execution_failed')).toEqual([])
    expect((await workflow('w1')).failuresByClass).toEqual({ credentials: 1 })
  })

  it('applies a user rule (pattern, node type, HTTP status) before the built-in classes', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/n8n/failure-rules',
      {
        name: 'CRM quota',
        pattern: '(?i)quota',
        nodeType: 'n8n-nodes-base.httpRequest',
        httpStatus: 500,
        class: 'rate_limit',
      },
      op.headers,
    )
    expect(res.status).toBe(201)
    const id = run('w1', now + 1000, 'error', { name: 'NodeApiError', httpCode: '500', message: 'Daily QUOTA reached' })
    const other = run('w1', now + 2000, 'error', {
      name: 'NodeApiError',
      httpCode: '502',
      message: 'Daily quota reached',
    })
    now += MIN
    await poll()
    const rows = await t.db.select().from(n8nExecutions)
    expect(rows.find((r) => r.id === id)?.failureClass).toBe('rate_limit')
    expect(rows.find((r) => r.id === other)?.failureClass).toBe('upstream_5xx')
    const classes = (await openAlerts('n8n_execution_failed')).map((a) => a.labels.class).sort()
    expect(classes).toEqual(['rate_limit', 'upstream_5xx'])
    const series503 = await t.db.select().from(series).where(eq(series.name, 'n8n_workflow_failures_total'))
    expect(series503.map((s) => s.labels.class).sort()).toEqual(['credentials', 'rate_limit', 'upstream_5xx'])
    run('w1', now + 1000)
    now += MIN
    await poll()
  })

  it('lists executions by class with a link into n8n', async () => {
    const { body } = await get(`/api/v1/n8n/health/workflows/w1/executions?instance=${inst}&class=rate_limit`)
    expect(body.items).toHaveLength(1)
    expect(body.items[0].url).toBe(`${n8n.url}/workflow/w1/executions/${body.items[0].id}`)
  })

  it('marks a workflow failing after its last three runs failed', async () => {
    for (let i = 0; i < 3; i++)
      run('w2', now + i * 1000, 'error', { message: 'ECONNRESET', code: 'ECONNRESET' }, 'Hook')
    now += MIN
    await poll()
    expect(await workflow('w2')).toMatchObject({ state: 'failing', consecutiveFailures: 3 })
    run('w2', now + 1000)
    now += MIN
    await poll()
    expect((await workflow('w2')).state).not.toBe('failing')
  })
})

describe('schedules, deactivation, reachability', () => {
  it('raises n8n_schedule_missed when an expected run does not happen, and resolves it when runs come back', async () => {
    const last = now
    run('w1', last)
    await poll()
    now = last + 8 * MIN // the fire 5 min after, plus 150 s grace, has passed
    await poll()
    const [missed] = await openAlerts('n8n_schedule_missed')
    expect(missed!.labels).toMatchObject({ instance: 'prod', workflow: 'Sync CRM', workflow_id: 'w1' })
    expect(await workflow('w1')).toMatchObject({ state: 'stopped' })
    run('w1', now)
    now += 30_000
    await poll()
    expect(await openAlerts('n8n_schedule_missed')).toEqual([])
    expect((await workflow('w1')).state).toBe('healthy')
  })

  it('holds a webhook workflow to "at least one execution every N" set through the API', async () => {
    const res = await t.json(
      'PUT',
      `/api/v1/n8n/health/workflows/w2/expectation?instance=${inst}`,
      { every: '1h' },
      op.headers,
    )
    expect(res.status).toBe(200)
    const last = now
    run('w2', last)
    await poll()
    now = last + 66 * MIN
    run('w1', now - 1000) // the scheduled one keeps running
    await poll()
    expect((await openAlerts('n8n_schedule_missed')).map((a) => a.labels.workflow_id)).toEqual(['w2'])
    const del = await t.app.request(`/api/v1/n8n/health/workflows/w2/expectation?instance=${inst}`, {
      method: 'DELETE',
      headers: op.headers,
    })
    expect(del.status).toBe(204)
    await poll()
    expect(await openAlerts('n8n_schedule_missed')).toEqual([])
    const audit = await t.db.select().from(auditLog).where(eq(auditLog.action, 'n8n.expectation.set'))
    expect(audit).toHaveLength(1)
  })

  it('raises n8n_workflow_deactivated when n8n switches a workflow off, and resolves it when on again', async () => {
    run('w1', now)
    n8n.workflow('w1')!.active = false
    now += MIN
    await poll()
    const [off] = await openAlerts('n8n_workflow_deactivated')
    expect(off!.labels).toMatchObject({ workflow: 'Sync CRM', workflow_id: 'w1' })
    expect((await workflow('w1')).state).toBe('inactive')
    // Inactive, so no schedule is expected of it.
    now += 30 * MIN
    await poll()
    expect(await openAlerts('n8n_schedule_missed')).toEqual([])
    n8n.workflow('w1')!.active = true
    now += MIN
    await poll()
    expect(await openAlerts('n8n_workflow_deactivated')).toEqual([])
  })

  it('marks every workflow unknown while the instance cannot be reached', async () => {
    const closed = await freePort()
    const other = await addInstance('gone', `http://127.0.0.1:${closed}`)
    const flaky = await startFakeN8n({ apiKey: KEY })
    const third = await addInstance('flaky', flaky.url)
    flaky.addWorkflow('f1', 'Flaky one', true, webhook)
    await health.poll(now, third)
    await flaky.close()
    now += MIN
    const [r] = await health.poll(now, third)
    expect(r).toMatchObject({ reachable: false })
    expect(r!.error).toMatch(/unreachable/)
    expect((await get(`/api/v1/n8n/health/workflows/f1?instance=${third}`)).body.state).toBe('unknown')
    expect((await openAlerts('n8n_instance_unreachable')).map((a) => a.labels.instance)).toEqual(['flaky'])
    const [g] = await health.poll(now, other)
    expect(g!.reachable).toBe(false)
    const list = (await get('/api/v1/n8n/health')).body.items
    expect(list.find((i: any) => i.name === 'prod')).toMatchObject({ reachable: true, version: '1.99.0' })
    expect(list.find((i: any) => i.name === 'flaky')).toMatchObject({ reachable: false, workflows: { unknown: 1 } })
  })

  it('counts an instance answering 5xx past its retries as unreachable, and resolves the alert when it answers again', async () => {
    n8n.failNext(503, 4) // the first try and its three retries
    now += MIN
    const [down] = await backoff.poll(now, inst)
    expect(down).toMatchObject({ reachable: false })
    expect(down!.error).toMatch(/HTTP 503/)
    expect((await workflow('w1')).state).toBe('unknown')
    expect((await openAlerts('n8n_instance_unreachable')).map((a) => a.labels.instance).sort()).toEqual([
      'flaky',
      'gone',
      'prod',
    ])
    run('w1', now + 1000)
    now += MIN
    expect((await backoff.poll(now, inst))[0]).toMatchObject({ reachable: true })
    expect((await openAlerts('n8n_instance_unreachable')).map((a) => a.labels.instance).sort()).toEqual([
      'flaky',
      'gone',
    ])
    expect((await workflow('w1')).state).not.toBe('unknown')
  })

  it('runs as the n8n_poll job', async () => {
    now += MIN
    const counts = await n8nPollJob(health, '* * * * *').handler({ now, tick: 1, log: t.services.log })
    expect(counts).toMatchObject({ instances: 3, unreachable: 2 })
  })
})

describe('API: roles and bad inputs', () => {
  it('lets viewers read and refuses them changes; anonymous callers get 401', async () => {
    expect((await get('/api/v1/n8n/health/workflows?state=healthy')).status).toBe(200)
    expect((await get('/api/v1/n8n/failure-rules')).body.items).toHaveLength(1)
    const res = await t.json(
      'POST',
      '/api/v1/n8n/failure-rules',
      { name: 'x', httpStatus: 500, class: 'code' },
      viewer.headers,
    )
    expect(res.status).toBe(403)
    expect((await t.json('POST', '/api/v1/n8n/health/poll', {}, viewer.headers)).status).toBe(403)
    expect((await t.app.request('/api/v1/n8n/health')).status).toBe(401)
  })

  it('names the bad field', async () => {
    const bad = async (method: string, path: string, body: unknown) => {
      const res = await t.json(method, path, body, op.headers)
      expect(res.status).toBe(400)
      return ((await res.json()) as any).error.details.map((d: any) => d.field)
    }
    expect(await bad('POST', '/api/v1/n8n/failure-rules', { name: 'none', class: 'code' })).toContain('pattern')
    expect(await bad('POST', '/api/v1/n8n/failure-rules', { name: 'r', pattern: '(a', class: 'code' })).toContain(
      'pattern',
    )
    expect(await bad('POST', '/api/v1/n8n/failure-rules', { name: 'r', httpStatus: 500, class: 'oops' })).toContain(
      'class',
    )
    expect(await bad('POST', '/api/v1/n8n/failure-rules', { name: 'r', httpStatus: 99, class: 'code' })).toContain(
      'httpStatus',
    )
    expect(await bad('PUT', `/api/v1/n8n/health/workflows/w2/expectation?instance=${inst}`, { every: '5s' })).toContain(
      'every',
    )
    expect((await get('/api/v1/n8n/health/workflows?state=sleepy')).status).toBe(400)
    expect((await get(`/api/v1/n8n/health/workflows/w1/executions?instance=${inst}&cursor=abc`)).status).toBe(400)
    expect((await get('/api/v1/n8n/health/workflows/w1?instance=nope')).status).toBe(404)
    expect((await get(`/api/v1/n8n/health/workflows/nope?instance=${inst}`)).status).toBe(404)
  })

  it('changes and deletes a rule, refusing a change that leaves it without a condition', async () => {
    const [rule] = (await get('/api/v1/n8n/failure-rules')).body.items
    let res = await t.json(
      'PATCH',
      `/api/v1/n8n/failure-rules/${rule.id}`,
      { pattern: null, nodeType: null, httpStatus: null },
      op.headers,
    )
    expect(res.status).toBe(400)
    res = await t.json(
      'PATCH',
      `/api/v1/n8n/failure-rules/${rule.id}`,
      { enabled: false, class: 'timeout' },
      op.headers,
    )
    expect((await res.json()) as any).toMatchObject({ enabled: false, class: 'timeout' })
    res = await t.app.request(`/api/v1/n8n/failure-rules/${rule.id}`, { method: 'DELETE', headers: op.headers })
    expect(res.status).toBe(204)
    expect((await get(`/api/v1/n8n/failure-rules/${rule.id}`)).status).toBe(404)
    const actions = (await t.db.select().from(auditLog))
      .map((a) => a.action)
      .filter((a) => a.startsWith('n8n.failure_rule'))
    expect(actions).toEqual(['n8n.failure_rule.created', 'n8n.failure_rule.updated', 'n8n.failure_rule.deleted'])
  })
})

describe('pages', () => {
  it('shows instances and workflows with state, sparkline and classes; a workflow page links executions into n8n', async () => {
    const s = await t.session('viewer')
    const html = await (await t.app.request('/n8n', { headers: s.headers })).text()
    expect(html).toContain('Sync CRM')
    expect(html).toContain('1.99.0')
    expect(html).toContain('spark-mini')
    expect(html).toContain('credentials 1')
    expect(html).not.toContain('Poll now') // viewers do not change anything
    const page = await (await t.app.request(`/n8n/workflow?instance=${inst}&id=w1`, { headers: s.headers })).text()
    expect(page).toContain(`${n8n.url}/workflow/w1/executions/`)
    expect(page).toContain('timeline-svg')
    expect(page).toContain('every 5 min')
    const opSession = await t.session('operator')
    expect(await (await t.app.request('/n8n', { headers: opSession.headers })).text()).toContain('Poll now')
    expect((await t.app.request(`/n8n/workflow?instance=${inst}`, { headers: s.headers })).status).toBe(400)
  })
})

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}
