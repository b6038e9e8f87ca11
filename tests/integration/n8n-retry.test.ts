/**
 * Capped auto-retry of transient n8n failures, against the local stand-in of n8n's API with a fake
 * clock: the template makes the rule, a failed execution's alert starts the healing action, which
 * retries through n8n's API on the back-off schedule (5 s, 15 s, 30 s), within the caps, never for
 * credentials, and gives up (escalates) when the retries fail the same way; a successful retry's
 * execution resolves the alert at the next poll. Each step is in the workflow's retry history.
 */
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { healingActions } from '../../db/schema/healing.ts'
import { testApp } from '../helpers/app.ts'
import { type FakeExecution, startFakeN8n } from '../helpers/fake-n8n.ts'

const KEY = 'n8n-api-key-for-retry-tests'
const S = 1000
const t = await testApp({ N8N_POLL_MAX_RPS: '100', N8N_DEFAULT_TIMEZONE: 'UTC' })
const n8n = await startFakeN8n({ apiKey: KEY })
afterAll(async () => {
  await n8n.close()
  t.close()
})
const admin = await t.key('admin')
const op = await t.key('operator')
const viewer = await t.key('viewer')
const inst = (
  (await (
    await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'prod', baseUrl: n8n.url, apiKey: KEY },
      admin.headers,
    )
  ).json()) as { id: string }
).id
const httpNode = (id: string) => ({
  id,
  name: 'Call CRM',
  type: 'n8n-nodes-base.httpRequest',
  typeVersion: 4.2,
  position: [200, 0],
  parameters: {},
})
const hook = { id: 'w', name: 'Hook', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], parameters: {} }
for (const id of ['w1', 'w2', 'w3', 'w4'])
  n8n.addWorkflow(id, `Flow ${id}`, true, { nodes: [hook, httpNode(`${id}h`)] })

let now = Math.floor(Date.now() / 60_000) * 60_000
let nextId = 1
const iso = (ms: number) => new Date(ms).toISOString()
const errorData = (httpCode: string, message: string) => {
  const error = {
    name: 'NodeApiError',
    httpCode,
    message,
    node: { name: 'Call CRM', type: 'n8n-nodes-base.httpRequest' },
  }
  return { resultData: { runData: { 'Call CRM': [{ startTime: now, error }] }, lastNodeExecuted: 'Call CRM', error } }
}
const E503 = () => errorData('503', '503 - Service Unavailable')
const E401 = () => errorData('401', 'Authorization failed - please check your credentials')
function fail(workflowId: string, data: Record<string, unknown>) {
  const id = String(nextId++)
  const more: Partial<FakeExecution> = { startedAt: iso(now), stoppedAt: iso(now + S), mode: 'trigger', data }
  n8n.addExecution(id, 'error', workflowId, more)
  return id
}
const poll = () => t.services.workflowHealth.poll(now, inst)
const tick = async () => {
  await t.services.healing.tick(now)
  await t.services.healing.settle()
}
const retryCalls = () => n8n.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/retry')).map((r) => r.path)
const actionsOf = async (executionId: string) =>
  (await t.db.select().from(healingActions).where(eq(healingActions.actionType, 'n8n_retry'))).filter(
    (a) => (a.params as { executionId?: string }).executionId === executionId,
  )
const failureAlert = async (workflowId: string) =>
  (await t.db.select().from(alerts).where(eq(alerts.source, 'n8n'))).find(
    (a) => a.labels.alertname === 'n8n_execution_failed' && a.labels.workflow_id === workflowId,
  )
const escalation = async () =>
  (await t.db.select().from(alerts).where(eq(alerts.source, 'healing'))).find(
    (a) => a.labels.alertname === 'HealingActionFailed' && a.labels.action_type === 'n8n_retry',
  )
const history = async (workflowId: string) => {
  const res = await t.app.request(`/api/v1/n8n/health/workflows/${workflowId}?instance=${inst}`, {
    headers: viewer.headers,
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { retries: { outcome: string; attempt: number; executionId: string }[] }).retries
}

describe('the template', () => {
  it('is listed, and refuses a bad body naming the field, an unknown template, an unknown instance, a viewer', async () => {
    const list = await t.app.request('/api/v1/healing/rule-templates', { headers: viewer.headers })
    expect(((await list.json()) as { items: { id: string }[] }).items.map((i) => i.id)).toContain('n8n-retry-transient')
    const bad = await t.json(
      'POST',
      '/api/v1/healing/rule-templates/n8n-retry-transient',
      { target: 'prod', maxPerExecution: 0 },
      op.headers,
    )
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toContain('maxPerExecution')
    const creds = await t.json(
      'POST',
      '/api/v1/healing/rule-templates/n8n-retry-transient',
      { target: 'prod', classes: ['credentials'] },
      op.headers,
    )
    expect(creds.status).toBe(400)
    expect(JSON.stringify(await creds.json())).toContain('classes')
    const unknown = await t.json('POST', '/api/v1/healing/rule-templates/nope', { target: 'prod' }, op.headers)
    expect(unknown.status).toBe(404)
    const noInstance = await t.json(
      'POST',
      '/api/v1/healing/rule-templates/n8n-retry-transient',
      { target: 'staging' },
      op.headers,
    )
    expect(noInstance.status).toBe(400)
    expect(JSON.stringify(await noInstance.json())).toContain('target')
    const asViewer = await t.json(
      'POST',
      '/api/v1/healing/rule-templates/n8n-retry-transient',
      { target: 'prod' },
      viewer.headers,
    )
    expect(asViewer.status).toBe(403)
  })

  it('makes the rule in one call (audited), selecting the failure alert by class', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/rule-templates/n8n-retry-transient',
      { target: 'prod', maxPerWorkflowPerHour: 4 },
      op.headers,
    )
    expect(res.status).toBe(201)
    const rule = (await res.json()) as any
    expect(rule.actionType).toBe('n8n_retry')
    expect(rule.target).toBe('prod')
    expect(rule.trigger.matchers).toContainEqual({
      label: 'class',
      op: '=~',
      value: 'rate_limit|network|upstream_5xx|timeout',
    })
    expect(rule.params).toMatchObject({ executionId: '{{execution_id}}', maxPerExecution: 3, maxPerWorkflowPerHour: 4 })
    expect(rule.maxAttempts).toBe(3)
    // The rule counts from its creation: the fake clock moves on from here.
    now = Math.max(now, Date.parse(rule.updatedAt)) + S
  })
})

describe('a transient failure', () => {
  it('is retried after 5 s; the retry succeeds; the next poll resolves the alert', async () => {
    const e = fail('w1', E503())
    await poll()
    const alert = await failureAlert('w1')
    expect(alert?.labels.class).toBe('upstream_5xx')
    expect(alert?.annotations.execution_id).toBe(e)
    await tick()
    const [action] = await actionsOf(e)
    expect(action?.status).toBe('PENDING')
    expect(action!.runAfter - now).toBe(5 * S)
    now += 4 * S
    await tick()
    expect(retryCalls()).toEqual([])
    now += S
    await tick()
    expect(retryCalls()).toEqual([`/api/v1/executions/${e}/retry`])
    expect((await actionsOf(e))[0]?.status).toBe('SUCCESS')
    expect(await history('w1')).toMatchObject([{ executionId: e, attempt: 1, outcome: 'succeeded' }])
    now += 10 * S
    await poll()
    expect((await failureAlert('w1'))?.status).toBe('resolved')
  })
})

describe('retries that fail the same way', () => {
  it('back off 5 s → 15 s → 30 s, stop after 3 and escalate', async () => {
    const before = retryCalls().length
    const e = fail('w2', E503())
    n8n.retryResults(
      { status: 'error', data: E503() },
      { status: 'error', data: E503() },
      { status: 'error', data: E503() },
    )
    await poll()
    await tick()
    const first = (await actionsOf(e))[0]!
    expect(first.runAfter - first.createdAt).toBe(5 * S)
    const at: number[] = []
    const waits: number[] = []
    // Walk the clock a second at a time for a minute: when each retry reaches n8n, and the wait set after it.
    const start = now
    for (let i = 0; i < 60; i++) {
      now += S
      const n = retryCalls().length
      await tick()
      if (retryCalls().length === n) continue
      at.push(now - start)
      const [a] = await actionsOf(e)
      if (a?.status === 'PENDING') waits.push(a.runAfter - a.updatedAt)
    }
    expect(retryCalls().length - before).toBe(3)
    expect(waits).toEqual([15 * S, 30 * S])
    // Never earlier than the back-off (the tick after it is due runs it).
    expect(at[0]).toBeGreaterThanOrEqual(5 * S)
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(15 * S)
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(30 * S)
    const [action] = await actionsOf(e)
    expect(action?.status).toBe('FAILED')
    expect(action?.reason).toContain('the same way')
    expect((await escalation())?.status).not.toBe('resolved')
    expect((await history('w2')).map((r) => [r.attempt, r.outcome])).toEqual([
      [3, 'gave_up'],
      [2, 'failed'],
      [1, 'failed'],
    ])
    const timeline = await t.app.request(`/api/v1/healing/actions/${action!.id}`, { headers: viewer.headers })
    const events = ((await timeline.json()) as { timeline: { message: string }[] }).timeline.map((x) => x.message)
    expect(events.some((m) => m.includes('retry 1 of') && m.includes('failed'))).toBe(true)
    // The page shows the same history.
    const page = await t.app.request(`/n8n/workflow?instance=${inst}&id=w2`, { headers: viewer.headers })
    expect(await page.text()).toContain('data-outcome="gave_up"')
  })

  it('a retry failing as a class never retried stops at once', async () => {
    const before = retryCalls().length
    const e = fail('w3', E503())
    n8n.retryResults({ status: 'error', data: E401() })
    await poll()
    now += 5 * S
    await tick()
    now += 5 * S
    await tick()
    now += 60 * S
    await tick()
    expect(retryCalls().length - before).toBe(1)
    expect((await actionsOf(e))[0]?.reason).toContain('credentials, which is never retried')
  })
})

describe('never retried', () => {
  it('credentials failures start no retry', async () => {
    const before = retryCalls().length
    fail('w4', E401())
    await poll()
    expect((await failureAlert('w4'))?.labels.class).toBe('credentials')
    for (let i = 0; i < 3; i++) {
      now += 20 * S
      await tick()
    }
    expect(retryCalls().length).toBe(before)
  })

  it('an action asked by hand for a credentials failure is refused without calling n8n', async () => {
    const before = retryCalls().length
    const e = fail('w4', E401())
    await poll()
    const res = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'n8n_retry', target: 'prod', params: { executionId: e } },
      op.headers,
    )
    expect(res.status).toBe(201)
    now += 5 * S
    await tick()
    expect(retryCalls().length).toBe(before)
    const [action] = await actionsOf(e)
    expect(action?.status).toBe('FAILED')
    expect(action?.reason).toContain('never retries')
  })
})

describe('the caps', () => {
  it('at most maxPerWorkflowPerHour retries of a workflow an hour', async () => {
    // w1 has one retry this hour; the rule allows 4. Three more failures (each its own alert, after a success) use it up.
    const used = async () => (await history('w1')).filter((r) => r.outcome !== 'refused').length
    let refusedAt: string | undefined
    for (let i = 0; i < 4; i++) {
      const e = fail('w1', E503())
      await poll()
      await tick()
      now += 6 * S
      await tick()
      now += 60 * S
      await poll() // the successful retry's execution: the alert resolves, so the next failure fires again
      const [a] = await actionsOf(e)
      if (a?.status === 'FAILED') refusedAt = a.reason ?? ''
    }
    expect(await used()).toBe(4)
    expect(refusedAt).toContain('in the last hour (at most 4)')
    expect((await history('w1'))[0]?.outcome).toBe('refused')
  })

  it('at most maxPerExecution retries of one execution, counted across actions', async () => {
    const e = fail('w3', E503())
    await poll()
    n8n.retryResults({ status: 'error', data: E503() }, { status: 'error', data: E503() })
    const byHand = (maxPerExecution: number) =>
      t.json(
        'POST',
        '/api/v1/healing/actions',
        { type: 'n8n_retry', target: 'prod', params: { executionId: e, maxPerExecution }, maxAttempts: 1 },
        op.headers,
      )
    const before = retryCalls().length
    for (let i = 0; i < 3; i++) {
      expect((await byHand(2)).status).toBe(201)
      now += 6 * S
      await tick()
    }
    expect(retryCalls().length - before).toBe(2)
    const refused = (await actionsOf(e)).find((a) => a.reason?.includes('retried 2 times already'))
    expect(refused?.status).toBe('FAILED')
  })

  it('bad params are a 400 naming the field', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'n8n_retry', target: 'prod', params: { executionId: '../x', classes: ['code'] } },
      op.headers,
    )
    expect(res.status).toBe(400)
    const text = JSON.stringify(await res.json())
    expect(text).toContain('params.executionId')
    expect(text).toContain('params.classes')
  })
})

it('a rule made from the template on the page (operators see the form; a bad number is a 400)', async () => {
  const sess = await t.session('operator')
  const post = (body: Record<string, string>) =>
    t.app.request('/healing/rule-templates/n8n-retry-transient', {
      method: 'POST',
      body: new URLSearchParams(body),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true', ...sess.headers },
    })
  const list = await t.app.request('/healing/rules', { headers: sess.headers })
  expect(await list.text()).toContain('data-template="n8n-retry-transient"')
  expect((await post({ target: 'prod', maxPerExecution: 'x' })).status).toBe(400)
  // The API's rule has the default name: the page's needs its own (a second rule of that name is a 409).
  expect((await post({ target: 'prod', maxPerExecution: '' })).status).toBe(409)
  const ok = await post({ target: 'prod', name: 'page rule', maxPerExecution: '', maxPerWorkflowPerHour: '7' })
  expect(ok.status).toBe(200)
  expect(ok.headers.get('HX-Redirect')).toMatch(/^\/healing\/rules\//)
  const rules = await t.app.request('/api/v1/healing/rules?actionType=n8n_retry', { headers: viewer.headers })
  const items = ((await rules.json()) as { items: { params: Record<string, unknown> }[] }).items
  expect(items.some((r) => r.params.maxPerWorkflowPerHour === 7 && r.params.maxPerExecution === 3)).toBe(true)
})
