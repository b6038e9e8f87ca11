/**
 * Capped auto-retry and instance outages against a real n8n 1.123 (from the cache install-n8n.sh
 * fills, outside the repo), set up as workflow-health.test.ts does it; one n8n for the file.
 *
 * - A webhook-started workflow whose HTTP Request node calls a local server answering 503 fails as
 *   `upstream_5xx`; the "retry transient n8n failures" template's rule retries it through n8n's API
 *   once the server answers 200 again; the retry succeeds and the next poll resolves the alert.
 * - The same server answering 401 fails as `credentials`: never retried (no healing action, no retry
 *   execution in n8n, the server called once).
 * - n8n stopped → `n8n_instance_unreachable`; started again on the same port and data → resolved.
 *
 * All traffic stays on 127.0.0.1.
 */
import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alerts } from '../../../db/schema/alerts.ts'
import { healingActions } from '../../../db/schema/healing.ts'
import { n8nExecutions, n8nRetries } from '../../../db/schema/n8n.ts'
import { type TestApp, testApp } from '../../helpers/app.ts'
import { httpTarget } from '../../helpers/http-target.ts'
import { type RealN8n, startRealN8n } from '../../helpers/real-n8n.ts'
import { until } from '../../helpers/server.ts'

let t: TestApp
let n8n: RealN8n
let upstream: Awaited<ReturnType<typeof httpTarget>>
/** What the local server's /flaky answers: 503 until the test lets it recover. */
let flakyStatus = 503
let instance: string
let admin: { headers: Record<string, string> }

beforeAll(async () => {
  n8n = await startRealN8n({
    name: 'n8nretry',
    scopes: [
      'workflow:create',
      'workflow:read',
      'workflow:list',
      'workflow:activate',
      'execution:list',
      'execution:read',
      'execution:retry',
    ],
  })
  t = await testApp({ OUTBOUND_ALLOW: '127.0.0.1', N8N_DEFAULT_TIMEZONE: 'UTC' })
  upstream = await httpTarget({
    '/flaky': (_req, res) =>
      res
        .writeHead(flakyStatus, { 'Content-Type': 'application/json' })
        .end(flakyStatus === 200 ? '{"ok":true}' : '{"error":"down"}'),
    '/locked': (_req, res) => res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"bad token"}'),
  })
  admin = await t.key('admin')
  const added = await t.json(
    'POST',
    '/api/v1/healing/n8n-instances',
    { name: 'local', baseUrl: n8n.url, apiKey: n8n.apiKey },
    admin.headers,
  )
  expect(added.status).toBe(201)
  instance = ((await added.json()) as { id: string }).id
}, 600_000)

afterAll(async () => {
  await n8n?.stop()
  t?.close()
  await upstream?.close()
})

const poll = async () => {
  const [r] = await t.services.workflowHealth.poll(Date.now(), instance)
  return r!
}
const n8nAlerts = async (alertname: string) =>
  (await t.db.select().from(alerts).where(eq(alerts.source, 'n8n'))).filter((a) => a.labels.alertname === alertname)

/** A webhook → HTTP Request workflow, active, whose request goes to the local server's `path`. */
async function webhookCaller(name: string, path: string) {
  const wf = await n8n.api('POST', '/workflows', {
    name,
    nodes: [
      {
        name: 'Hook',
        type: 'n8n-nodes-base.webhook',
        typeVersion: 2,
        position: [0, 0],
        webhookId: `homeostat-${path.slice(1)}`,
        parameters: { path: `homeostat${path}`, httpMethod: 'GET' },
      },
      {
        name: 'Call upstream',
        type: 'n8n-nodes-base.httpRequest',
        typeVersion: 4.2,
        position: [200, 0],
        parameters: { url: upstream.url(path), options: {} },
      },
    ],
    connections: { Hook: { main: [[{ node: 'Call upstream', type: 'main', index: 0 }]] } },
    settings: { executionOrder: 'v1', timezone: 'UTC' },
  })
  await n8n.api('POST', `/workflows/${wf.id}/activate`)
  return wf.id as string
}

/** Starts one execution through the production webhook (n8n answers at once, the run goes on). */
const trigger = (path: string) =>
  until(
    `n8n took the webhook ${path}`,
    async () => ((await fetch(`${n8n.url}/webhook/homeostat${path}`)).ok ? true : undefined),
    30_000,
    500,
  )

describe('capped auto-retry with n8n 1.123', () => {
  it('retries an upstream_5xx failure once the local server recovers, resolving the alert; never a credentials one', async () => {
    const made = await t.json(
      'POST',
      '/api/v1/healing/rule-templates/n8n-retry-transient',
      { target: 'local' },
      admin.headers,
    )
    expect(made.status).toBe(201)
    const flaky = await webhookCaller('Flaky', '/flaky')
    const locked = await webhookCaller('Locked', '/locked')
    await trigger('/flaky')
    await trigger('/locked')

    const failed = await until(
      'both failures were read and classified',
      async () => {
        const r = await poll()
        expect(r.error, r.error).toBeUndefined()
        const rows = await t.db.select().from(n8nExecutions).where(eq(n8nExecutions.instanceId, instance))
        const f = rows.find((x) => x.workflowId === flaky && x.status === 'error' && x.failureClass)
        const l = rows.find((x) => x.workflowId === locked && x.status === 'error' && x.failureClass)
        return f && l ? { f, l } : undefined
      },
      60_000,
      1000,
    )
    expect(failed.f).toMatchObject({ failureClass: 'upstream_5xx', failingNode: 'Call upstream', httpCode: 503 })
    expect(failed.l).toMatchObject({ failureClass: 'credentials', failingNode: 'Call upstream', httpCode: 401 })
    const firing = await n8nAlerts('n8n_execution_failed')
    expect(firing.map((a) => [a.labels.workflow, a.labels.class, a.status]).sort()).toEqual([
      ['Flaky', 'upstream_5xx', 'firing'],
      ['Locked', 'credentials', 'firing'],
    ])
    expect(upstream.hits('/flaky')).toBe(1)

    // The upstream comes back before the first retry (5 s after the alert) reaches n8n.
    flakyStatus = 200
    const action = await until(
      'the n8n_retry action ended',
      async () => {
        await t.services.healing.tick(Date.now())
        await t.services.healing.settle()
        const rows = await t.db.select().from(healingActions).where(eq(healingActions.actionType, 'n8n_retry'))
        const a = rows.find((x) => (x.params as { executionId?: string }).executionId === failed.f.id)
        return a && (a.status === 'SUCCESS' || a.status === 'FAILED') ? a : undefined
      },
      60_000,
      1000,
    )
    expect(action.status, action.error ?? '').toBe('SUCCESS')
    expect(upstream.hits('/flaky')).toBe(2)
    const retries = await t.db.select().from(n8nRetries).where(eq(n8nRetries.instanceId, instance))
    expect(retries).toHaveLength(1)
    expect(retries[0]).toMatchObject({ executionId: failed.f.id, attempt: 1, outcome: 'succeeded' })
    // n8n itself holds the retry: a new successful execution retrying the failed one.
    const made1 = await n8n.api('GET', `/executions/${retries[0]!.retryExecutionId}`)
    expect(made1).toMatchObject({ workflowId: flaky, status: 'success', retryOf: String(failed.f.id) })

    // The next poll reads the successful retry and resolves Flaky's failure alert; Locked's stays open.
    await until(
      "Flaky's failure alert resolved",
      async () => {
        await poll()
        const a = (await n8nAlerts('n8n_execution_failed')).find((x) => x.labels.workflow === 'Flaky')
        return a?.status === 'resolved' ? a : undefined
      },
      30_000,
      1000,
    )
    const lockedAlert = (await n8nAlerts('n8n_execution_failed')).find((x) => x.labels.workflow === 'Locked')
    expect(lockedAlert?.status).toBe('firing')
    const historyOf = async (id: string) => {
      const res = await t.app.request(`/api/v1/n8n/health/workflows/${id}?instance=${instance}`, {
        headers: admin.headers,
      })
      expect(res.status).toBe(200)
      return ((await res.json()) as { retries: { executionId: string; attempt: number; outcome: string }[] }).retries
    }
    expect(await historyOf(flaky)).toMatchObject([
      { executionId: String(failed.f.id), attempt: 1, outcome: 'succeeded' },
    ])

    // The credentials failure: no healing action, no retry recorded, nothing retried in n8n, the server called once,
    // even with the clock a minute past every back-off.
    await t.services.healing.tick(Date.now() + 60_000)
    await t.services.healing.settle()
    const all = await t.db.select().from(healingActions)
    expect(all.filter((a) => (a.params as { executionId?: string }).executionId === failed.l.id)).toEqual([])
    expect(all).toHaveLength(1)
    const lockedRetries = await t.db
      .select()
      .from(n8nRetries)
      .where(and(eq(n8nRetries.instanceId, instance), eq(n8nRetries.workflowId, locked)))
    expect(lockedRetries).toEqual([])
    expect(await historyOf(locked)).toEqual([])
    const lockedRuns = await n8n.api('GET', `/executions?workflowId=${locked}&includeData=false`)
    expect(lockedRuns.data.map((e: { id: string; retryOf: string | null }) => [e.id, e.retryOf ?? null])).toEqual([
      [String(failed.l.id), null],
    ])
    expect(upstream.hits('/locked')).toBe(1)
  })
})

describe('an n8n outage', () => {
  it('raises n8n_instance_unreachable when n8n stops and resolves it when it is back on the same port', async () => {
    const before = await poll()
    expect(before.reachable).toBe(true)
    await n8n.halt()
    const down = await poll()
    expect(down.reachable).toBe(false)
    expect(down.error).toBeTruthy()
    const raised = await n8nAlerts('n8n_instance_unreachable')
    expect(raised.map((a) => [a.labels.instance, a.status])).toEqual([['local', 'firing']])
    const states = (await (
      await t.app.request(`/api/v1/n8n/health/workflows?instance=${instance}`, { headers: admin.headers })
    ).json()) as { items: { state: string }[] }
    expect(states.items.length).toBeGreaterThan(0)
    expect(new Set(states.items.map((w) => w.state))).toEqual(new Set(['unknown']))

    await n8n.resume()
    const up = await poll()
    expect(up.error, up.error).toBeUndefined()
    expect(up.reachable).toBe(true)
    const resolved = await n8nAlerts('n8n_instance_unreachable')
    expect(resolved.map((a) => [a.labels.instance, a.status])).toEqual([['local', 'resolved']])
    const back = (await (await t.app.request('/api/v1/n8n/health', { headers: admin.headers })).json()) as {
      items: { reachable: boolean }[]
    }
    expect(back.items[0]).toMatchObject({ reachable: true })
  })
})
