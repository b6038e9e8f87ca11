/**
 * Workflow history against a real n8n 1.123 (from the cache install-n8n.sh fills, outside the
 * repo): the owner is set up and an API key made through n8n's REST API as the editor would; a
 * workflow is created through the public API, changed twice (and moved on the canvas once), pulled
 * by Homeostat after each change; the three versions and their diff are read; version 1 is rolled
 * back and read again from n8n. All traffic stays on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestApp, testApp } from '../../helpers/app.ts'
import { freePort, ROOT, run, until } from '../../helpers/server.ts'

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
  work = mkdtempSync(join(tmpdir(), 'homeostat-wfhist-e2e-'))
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
      N8N_ENCRYPTION_KEY: 'homeostat-wfhist-e2e-key',
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
          scopes: ['workflow:create', 'workflow:read', 'workflow:update', 'workflow:list', 'workflow:activate'],
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
  t = await testApp({ OUTBOUND_ALLOW: '127.0.0.1' })
}, 600_000)

afterAll(async () => {
  if (n8nProcess && n8nProcess.exitCode === null) {
    const exited = new Promise((resolve) => n8nProcess!.once('exit', resolve))
    n8nProcess.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
    if (n8nProcess.exitCode === null) n8nProcess.kill('SIGKILL')
  }
  t?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('workflow history with n8n 1.123', () => {
  it('pulls three versions of a workflow changed twice, diffs them, rolls back and reads the result from n8n', async () => {
    const admin = await t.key('admin')
    const op = await t.key('operator')
    const added = await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'local', baseUrl: n8nUrl, apiKey: n8nKey },
      admin.headers,
    )
    expect(added.status).toBe(201)
    const instance = ((await added.json()) as { id: string }).id
    const pull = async () => {
      const res = await t.json('POST', '/api/v1/n8n/pull', { instance }, op.headers)
      expect(res.status).toBe(200)
      const [r] = ((await res.json()) as { items: any[] }).items
      expect(r.error, r.error).toBeUndefined()
      return r
    }

    const trigger = {
      name: 'Start',
      type: 'n8n-nodes-base.manualTrigger',
      typeVersion: 1,
      position: [0, 0],
      parameters: {},
    }
    const created = await n8nApi('POST', '/workflows', {
      name: 'Orders',
      nodes: [trigger],
      connections: {},
      settings: { executionOrder: 'v1' },
    })
    const id = created.id as string
    expect((await pull()).created).toBe(1)
    expect((await pull()).created).toBe(0)

    // Change 1: a Set node after the trigger.
    const v1 = await n8nApi('GET', `/workflows/${id}`)
    const setNode = {
      name: 'Set status',
      type: 'n8n-nodes-base.set',
      typeVersion: 3.4,
      position: [220, 0],
      parameters: {
        assignments: { assignments: [{ id: 'a1', name: 'status', value: 'new', type: 'string' }] },
        options: {},
      },
    }
    await n8nApi('PUT', `/workflows/${id}`, {
      name: 'Orders',
      nodes: [...v1.nodes, setNode],
      connections: { Start: { main: [[{ node: 'Set status', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1' },
    })
    expect((await pull()).created).toBe(1)

    // A move on the canvas: n8n saves a new versionId, Homeostat stores nothing.
    const v2 = await n8nApi('GET', `/workflows/${id}`)
    const moved = v2.nodes.map((n: any) => (n.name === 'Start' ? { ...n, position: [40, 80] } : n))
    const afterMove = await n8nApi('PUT', `/workflows/${id}`, {
      name: v2.name,
      nodes: moved,
      connections: v2.connections,
      settings: { executionOrder: 'v1' },
    })
    expect(afterMove.versionId).not.toBe(v2.versionId)
    expect((await pull()).created).toBe(0)

    // Change 2: the Set node's value.
    const cur = await n8nApi('GET', `/workflows/${id}`)
    const changed = structuredClone(cur.nodes) as any[]
    changed.find((n) => n.name === 'Set status').parameters.assignments.assignments[0].value = 'paid'
    await n8nApi('PUT', `/workflows/${id}`, {
      name: cur.name,
      nodes: changed,
      connections: cur.connections,
      settings: { executionOrder: 'v1' },
    })
    expect((await pull()).created).toBe(1)

    const get = async (path: string) => (await (await t.app.request(path, { headers: op.headers })).json()) as any
    const versions = (await get(`/api/v1/n8n/workflows/${id}/versions?instance=${instance}`)).items
    expect(versions.map((v: any) => v.version)).toEqual([3, 2, 1])
    // n8n's workflow history names who saved each version (the API key's owner).
    expect(versions[0].author).toBe('Ada Owner')

    const d12 = await get(`/api/v1/n8n/workflows/${id}/diff?instance=${instance}&from=1&to=2`)
    expect(d12.nodes.added).toEqual([{ name: 'Set status', type: 'n8n-nodes-base.set' }])
    expect(d12.connections.added).toEqual([
      { from: 'Start', type: 'main', output: 0, to: 'Set status', toType: 'main', input: 0 },
    ])
    const d23 = await get(`/api/v1/n8n/workflows/${id}/diff?instance=${instance}&from=2&to=3`)
    expect(d23.nodes.changed).toEqual([
      {
        node: 'Set status',
        changes: [{ path: 'parameters.assignments.assignments[0].value', old: 'new', new: 'paid' }],
      },
    ])

    const rb = await t.json('POST', `/api/v1/n8n/workflows/${id}/rollback?instance=${instance}`, { to: 1 }, op.headers)
    expect(rb.status, await rb.clone().text()).toBe(200)
    expect(await rb.json()).toMatchObject({ workflowId: id, restored: 1, version: 4 })
    const back = await n8nApi('GET', `/workflows/${id}`)
    expect(back.id).toBe(id)
    expect(back.nodes.map((n: any) => n.name)).toEqual(['Start'])
    expect(back.connections).toEqual({})
    // What the rollback stored is what n8n now has: the next pull stores nothing.
    expect((await pull()).created).toBe(0)
  })
})
