/**
 * Workflow health against a real n8n 1.123 (from the cache install-n8n.sh fills, outside the
 * repo), set up as workflow-history.test.ts does it: a workflow on a 10-second schedule runs, is
 * then deactivated → `n8n_workflow_deactivated`; a workflow whose HTTP Request node calls a local
 * server answering 503 fails → class `upstream_5xx` on that node, and `n8n_execution_failed` with
 * that class. All traffic stays on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alerts } from '../../../db/schema/alerts.ts'
import { n8nExecutions } from '../../../db/schema/n8n.ts'
import { type TestApp, testApp } from '../../helpers/app.ts'
import { listenLocal } from '../../helpers/http.ts'
import { type RealN8n, startRealN8n } from '../../helpers/real-n8n.ts'
import { until } from '../../helpers/server.ts'

let upstream: Server | undefined
let upstreamUrl: string
let t: TestApp
let n8n: RealN8n

beforeAll(async () => {
  n8n = await startRealN8n({
    name: 'n8nhealth',
    scopes: [
      'workflow:create',
      'workflow:read',
      'workflow:list',
      'workflow:activate',
      'workflow:deactivate',
      'execution:list',
      'execution:read',
    ],
  })
  t = await testApp({ OUTBOUND_ALLOW: '127.0.0.1', N8N_DEFAULT_TIMEZONE: 'UTC' })
  upstream = createServer((_req, res) =>
    res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"down"}'),
  )
  upstreamUrl = await listenLocal(upstream)
}, 600_000)

afterAll(async () => {
  await n8n?.stop()
  t?.close()
  upstream?.close()
})

describe('workflow health with n8n 1.123', () => {
  it('sees a scheduled workflow run and get deactivated, and puts a 503 from a local server down to upstream_5xx', async () => {
    const admin = await t.key('admin')
    const added = await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'local', baseUrl: n8n.url, apiKey: n8n.apiKey },
      admin.headers,
    )
    expect(added.status).toBe(201)
    const instance = ((await added.json()) as { id: string }).id
    const schedule = {
      name: 'Every 10 s',
      type: 'n8n-nodes-base.scheduleTrigger',
      typeVersion: 1.2,
      position: [0, 0],
      parameters: { rule: { interval: [{ field: 'seconds', secondsInterval: 10 }] } },
    }
    const ticker = await n8n.api('POST', '/workflows', {
      name: 'Ticker',
      nodes: [
        schedule,
        { name: 'Nothing', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [200, 0], parameters: {} },
      ],
      connections: { 'Every 10 s': { main: [[{ node: 'Nothing', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1', timezone: 'UTC' },
    })
    const caller = await n8n.api('POST', '/workflows', {
      name: 'Caller',
      nodes: [
        schedule,
        {
          name: 'Call upstream',
          type: 'n8n-nodes-base.httpRequest',
          typeVersion: 4.2,
          position: [200, 0],
          parameters: { url: `${upstreamUrl}/orders`, options: {} },
        },
      ],
      connections: { 'Every 10 s': { main: [[{ node: 'Call upstream', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1', timezone: 'UTC' },
    })
    await n8n.api('POST', `/workflows/${ticker.id}/activate`)
    await n8n.api('POST', `/workflows/${caller.id}/activate`)
    const health = t.services.workflowHealth
    const poll = async () => {
      const [r] = await health.poll(Date.now(), instance)
      expect(r!.error, r!.error).toBeUndefined()
      return r!
    }
    const failed = await until(
      'a run of each workflow was read and the failure classified',
      async () => {
        await poll()
        const rows = await t.db.select().from(n8nExecutions)
        const ok = rows.find((r) => r.workflowId === ticker.id && r.status === 'success')
        const bad = rows.find((r) => r.workflowId === caller.id && r.status === 'error' && r.failureClass)
        return ok && bad ? bad : undefined
      },
      90_000,
      3000,
    )
    expect(failed).toMatchObject({ failureClass: 'upstream_5xx', failingNode: 'Call upstream', httpCode: 503 })
    const open = await t.db.select().from(alerts).where(eq(alerts.source, 'n8n'))
    expect(open.find((a) => a.labels.alertname === 'n8n_execution_failed')?.labels).toMatchObject({
      workflow: 'Caller',
      class: 'upstream_5xx',
      node: 'Call upstream',
    })
    const versionInfo = (await (await t.app.request('/api/v1/n8n/health', { headers: admin.headers })).json()) as any
    // n8n 1.123 tells its version only to signed-in users, never to an API key: it stays unknown.
    expect(versionInfo.items[0]).toMatchObject({ reachable: true, version: null })

    await n8n.api('POST', `/workflows/${ticker.id}/deactivate`)
    await n8n.api('POST', `/workflows/${caller.id}/deactivate`)
    await poll()
    const after = await t.db.select().from(alerts).where(eq(alerts.source, 'n8n'))
    const off = after.filter((a) => a.labels.alertname === 'n8n_workflow_deactivated' && a.status === 'firing')
    expect(off.map((a) => a.labels.workflow).sort()).toEqual(['Caller', 'Ticker'])
    const w = (await (
      await t.app.request(`/api/v1/n8n/health/workflows/${ticker.id}?instance=${instance}`, { headers: admin.headers })
    ).json()) as any
    expect(w).toMatchObject({ state: 'inactive', trigger: { kind: 'schedule', rules: ['every 10 s'] } })
    expect(w.executions.success).toBeGreaterThanOrEqual(1)
  })
})
