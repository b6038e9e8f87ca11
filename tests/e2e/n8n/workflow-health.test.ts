/**
 * Workflow health against a real n8n 1.123 (from the cache install-n8n.sh fills, outside the
 * repo), set up as workflow-history.test.ts does it: a workflow on a 10-second schedule runs, is
 * then deactivated → `n8n_workflow_deactivated`; a workflow whose HTTP Request node calls a local
 * server answering 503 fails → class `upstream_5xx` on that node, and `n8n_execution_failed` with
 * that class. All traffic stays on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alerts } from '../../../db/schema/alerts.ts'
import { n8nExecutions } from '../../../db/schema/n8n.ts'
import { type TestApp, testApp } from '../../helpers/app.ts'
import { listenLocal } from '../../helpers/http.ts'
import { freePort, ROOT, run, until } from '../../helpers/server.ts'

let upstream: Server | undefined
let upstreamUrl: string
let n8nProcess: ChildProcess | undefined
let work: string
let n8nUrl: string
let n8nKey: string
let t: TestApp
let output = ''

const n8nApi = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${n8nUrl}/api/v1${path}`, {
    method,
    headers: { 'X-N8N-API-KEY': n8nKey, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const json = (await res.json()) as any
  expect(res.status, JSON.stringify(json)).toBe(200)
  return json
}

beforeAll(async () => {
  const install = await run('bash', [join(ROOT, 'tests/e2e/n8n/install-n8n.sh')], {}, 15 * 60_000)
  if (install.code !== 0) throw new Error(`install-n8n.sh failed\n${install.stderr.slice(-4000)}`)
  const cache = install.stdout.trim().split('\n').pop()!
  work = mkdtempSync(join(tmpdir(), 'homeostat-n8nhealth-e2e-'))
  const port = await freePort()
  n8nUrl = `http://127.0.0.1:${port}`
  n8nProcess = spawn(join(cache, 'node_modules/node/bin/node'), [join(cache, 'node_modules/n8n/bin/n8n'), 'start'], {
    cwd: work,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      N8N_USER_FOLDER: join(work, 'user'),
      N8N_DIAGNOSTICS_ENABLED: 'false',
      N8N_RUNNERS_ENABLED: 'false',
      N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
      N8N_ENCRYPTION_KEY: 'homeostat-n8nhealth-e2e-key',
      N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
      N8N_PERSONALIZATION_ENABLED: 'false',
      N8N_HIRING_BANNER_ENABLED: 'false',
      N8N_PORT: String(port),
      N8N_LISTEN_ADDRESS: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  n8nProcess.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  n8nProcess.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  await until(
    'n8n answers',
    async () => {
      if (n8nProcess!.exitCode !== null) throw new Error(`n8n start exited\n${output.slice(-4000)}`)
      // /healthz answers before the REST routes are mounted: wait for one of those.
      return (await fetch(`${n8nUrl}/rest/settings`).catch(() => undefined))?.ok ? true : undefined
    },
    120_000,
    500,
  )

  // The owner, as the editor's setup page makes it (the answer signs the owner in), then an API key.
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'browser-id': 'homeostat-e2e' }
  // n8n answers "n8n is starting up" (HTTP 200, plain text) on some routes for a while after
  // /rest/settings works: retry until the answers are JSON.
  const setup = await until(
    'n8n set up its owner',
    async () => {
      const res = await fetch(`${n8nUrl}/rest/owner/setup`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          email: 'owner@example.com',
          firstName: 'Ada',
          lastName: 'Owner',
          password: 'Homeostat-e2e-1',
        }),
      })
      const text = await res.text()
      if (!text.startsWith('{')) return undefined
      expect(res.status, text).toBe(200)
      return res
    },
    60_000,
    500,
  )
  headers.Cookie = setup.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  n8nKey = await until(
    'n8n made an API key',
    async () => {
      const key = await fetch(`${n8nUrl}/rest/api-keys`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          label: 'homeostat',
          expiresAt: null,
          scopes: [
            'workflow:create',
            'workflow:read',
            'workflow:list',
            'workflow:activate',
            'workflow:deactivate',
            'execution:list',
            'execution:read',
          ],
        }),
      })
      const text = await key.text()
      if (!text.startsWith('{')) return undefined
      expect(key.status, text).toBe(200)
      return (JSON.parse(text) as { data: { rawApiKey: string } }).data.rawApiKey
    },
    60_000,
    500,
  )
  expect(n8nKey).toMatch(/\S{20,}/)
  t = await testApp({ OUTBOUND_ALLOW: '127.0.0.1', N8N_DEFAULT_TIMEZONE: 'UTC' })
  upstream = createServer((_req, res) =>
    res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"down"}'),
  )
  upstreamUrl = await listenLocal(upstream)
}, 600_000)

afterAll(async () => {
  if (n8nProcess && n8nProcess.exitCode === null) {
    const exited = new Promise((resolve) => n8nProcess!.once('exit', resolve))
    n8nProcess.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
    if (n8nProcess.exitCode === null) n8nProcess.kill('SIGKILL')
  }
  t?.close()
  upstream?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('workflow health with n8n 1.123', () => {
  it('sees a scheduled workflow run and get deactivated, and puts a 503 from a local server down to upstream_5xx', async () => {
    const admin = await t.key('admin')
    const added = await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'local', baseUrl: n8nUrl, apiKey: n8nKey },
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
    const ticker = await n8nApi('POST', '/workflows', {
      name: 'Ticker',
      nodes: [
        schedule,
        { name: 'Nothing', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [200, 0], parameters: {} },
      ],
      connections: { 'Every 10 s': { main: [[{ node: 'Nothing', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1', timezone: 'UTC' },
    })
    const caller = await n8nApi('POST', '/workflows', {
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
    await n8nApi('POST', `/workflows/${ticker.id}/activate`)
    await n8nApi('POST', `/workflows/${caller.id}/activate`)
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

    await n8nApi('POST', `/workflows/${ticker.id}/deactivate`)
    await n8nApi('POST', `/workflows/${caller.id}/deactivate`)
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
