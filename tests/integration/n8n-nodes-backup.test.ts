/**
 * The Homeostat Backup node's operations, run against the real app on a loopback port through the
 * n8n context harness, with a fake n8n (loopback) behind the workflow history; each is checked by
 * what Homeostat stored (backups, versions) and what n8n holds.
 */
import { createServer } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { listenLocal } from '../helpers/http.ts'
import { until } from '../helpers/server.ts'
import { execute, executeContext, failure, HomeostatBackup, serveApp } from '../helpers/n8n-harness.ts'

type Json = Record<string, any>
const KEY = 'n8n-key-for-the-backup-node'
let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let n8n: Awaited<ReturnType<typeof startFakeN8n>>
let credentials: { baseUrl: string; apiKey: string }
let viewerCredentials: { baseUrl: string; apiKey: string }
let prod: string
const node = new HomeostatBackup()

const httpNode = (url: string) => ({
  id: 'http',
  name: 'HTTP',
  type: 'n8n-nodes-base.httpRequest',
  typeVersion: 4,
  position: [200, 0],
  parameters: { url },
})

beforeAll(async () => {
  t = await testApp({ WORKFLOW_PULL_MAX_RPS: '100' })
  server = await serveApp(t)
  n8n = await startFakeN8n({ apiKey: KEY })
  const admin = await t.key('admin')
  const op = await t.key('operator')
  credentials = { baseUrl: server.url, apiKey: op.key }
  viewerCredentials = { baseUrl: server.url, apiKey: (await t.key('viewer')).key }
  const res = await t.json(
    'POST',
    '/api/v1/healing/n8n-instances',
    { name: 'prod', baseUrl: n8n.url, apiKey: KEY },
    admin.headers,
  )
  expect(res.status).toBe(201)
  prod = ((await res.json()) as { id: string }).id
  // Three versions of "orders": a URL change, then a new node.
  n8n.addWorkflow('orders', 'Orders', true, { nodes: [httpNode('https://api.example.com/v1')] })
  const pull = async () =>
    expect((await t.json('POST', '/api/v1/n8n/pull', { instance: prod }, op.headers)).status).toBe(200)
  await pull()
  n8n.editWorkflow('orders', (w) => void (w.nodes[0]!.parameters = { url: 'https://api.example.com/v2' }))
  await pull()
  n8n.editWorkflow('orders', (w) => void (w.name = 'Orders (new)'))
  await pull()
  n8n.addWorkflow('single', 'Single')
  await pull()
})
afterAll(async () => {
  await server.close()
  await n8n.close()
  t.close()
})

const run = (params: Record<string, unknown>, items?: Json[], continueOnFail = false, creds = credentials) =>
  execute(node, { params, items, credentials: creds, continueOnFail })
const history = (params: Record<string, unknown> = {}, items?: Json[], continueOnFail = false) =>
  run(
    { operation: 'getWorkflowHistory', instance: 'prod', workflowId: 'orders', returnAll: true, ...params },
    items,
    continueOnFail,
  )
const rollback = (params: Record<string, unknown> = {}, items?: Json[], continueOnFail = false) =>
  run(
    { operation: 'rollbackWorkflow', instance: 'prod', workflowId: 'orders', rollbackTo: 'previous', ...params },
    items,
    continueOnFail,
  )

describe('Backup: Get Workflow History', () => {
  it('lists the instances that have history for the Instance option (name shown, ID as value)', async () => {
    const ctx = executeContext({ params: {}, credentials })
    const options = await node.methods.loadOptions.getInstances.call(ctx as never)
    expect(options).toEqual([{ name: 'prod', value: prod, description: prod }])
  })

  it("gives a workflow's versions newest first, by instance name or ID, with a limit", async () => {
    const { items: out, sent } = await history({}, [{}])
    expect(out).toHaveLength(1)
    expect(out[0]!.pairedItem).toEqual({ item: 0 })
    expect(out[0]!.json).toMatchObject({ instance: prod, workflowId: 'orders', name: 'Orders (new)', latestVersion: 3 })
    expect((out[0]!.json.versions as Json[]).map((v) => [v.version, v.kind, v.name])).toEqual([
      [3, 'pull', 'Orders (new)'],
      [2, 'pull', 'Orders'],
      [1, 'pull', 'Orders'],
    ])
    // The name was looked up once; the versions asked by the instance's ID.
    expect(sent.map((s) => new URL(s.url).pathname)).toEqual([
      '/api/v1/n8n/workflows',
      '/api/v1/n8n/workflows/orders/versions',
    ])
    const { items: byId } = await history({ instance: prod, returnAll: false, limit: 2 })
    expect((byId[0]!.json.versions as Json[]).map((v) => v.version)).toEqual([3, 2])
  })

  it('adds the diff: latest against the one before by default, or the versions asked for', async () => {
    const { items: latest } = await history({ includeDiff: true, diffFrom: 0, diffTo: 0 })
    expect(latest[0]!.json.diff).toMatchObject({
      from: 2,
      to: 3,
      same: false,
      name: { old: 'Orders', new: 'Orders (new)' },
    })
    const { items: asked } = await history({ includeDiff: true, diffFrom: 1, diffTo: 2 })
    const diff = asked[0]!.json.diff as Json
    expect(diff).toMatchObject({ from: 1, to: 2, name: null })
    expect(JSON.stringify(diff.nodes)).toContain('https://api.example.com/v2')
  })

  it('names bad input: an empty workflow ID, a version that is not one, a diff before the first version', async () => {
    await expect(history({ workflowId: '  ' })).rejects.toThrow('Item 0, field "Workflow ID": is empty')
    await expect(history({ includeDiff: true, diffTo: 1.5 })).rejects.toThrow(
      'Item 0, field "Diff To Version": must be a version number (1, 2, 3…), got 1.5',
    )
    await expect(history({ workflowId: 'single', includeDiff: true })).rejects.toThrow(
      'Item 0, field "Diff From Version": version 1 is the first: there is none before it',
    )
    await expect(history({ workflowId: 'nothing-here', includeDiff: true })).rejects.toThrow(
      'Item 0, field "Workflow ID": no stored versions of nothing-here',
    )
    // An instance nobody registered: no history to show, and a rollback is the server's 404.
    const { items: none } = await history({ instance: 'staging' })
    expect(none[0]!.json).toMatchObject({ instance: 'staging', latestVersion: null, versions: [] })
    const unknown = await failure(rollback({ instance: 'staging' }))
    expect(unknown.message).toBe('Homeostat: n8n instance not found [HTTP 404]')
    expect(unknown.httpCode).toBe('404')
    await expect(history({ returnAll: false, limit: 0 })).rejects.toThrow(
      'Item 0, field "Limit": must be a whole number',
    )
  })
})

describe('Backup: Roll Back Workflow', () => {
  it('puts the previous version back into n8n (same ID, still active), stored as a rollback version', async () => {
    const { items: out } = await rollback()
    expect(out[0]!.json).toMatchObject({
      instance: 'prod',
      workflowId: 'orders',
      restored: 2,
      replaced: 3,
      version: 4,
      active: true,
    })
    expect(n8n.workflow('orders')).toMatchObject({ name: 'Orders', active: true })
    const { items: after } = await history({ returnAll: false, limit: 1 })
    expect((after[0]!.json.versions as Json[])[0]).toMatchObject({
      version: 4,
      kind: 'rollback',
      restoredVersion: 2,
      author: expect.stringMatching(/^key:hs_/),
    })
  })

  it('puts a version number back; re-creates a deleted workflow only when asked', async () => {
    const { items: out } = await rollback({ rollbackTo: 'version', version: (j: Json) => j.v }, [{ v: '1' }])
    expect(out[0]!.json).toMatchObject({ restored: 1, version: 5 })
    expect(n8n.workflow('orders')!.nodes[0]!.parameters).toEqual({ url: 'https://api.example.com/v1' })

    n8n.deleteWorkflow('single')
    const refused = await failure(rollback({ workflowId: 'single', rollbackTo: 'version', version: 1 }))
    expect(refused.httpCode).toBe('409')
    expect(refused.message).toMatch(/^Homeostat: Workflow single no longer exists in n8n prod; send "recreate": true/)
    const { items: again } = await rollback({ workflowId: 'single', rollbackTo: 'version', version: 1, recreate: true })
    expect(again[0]!.json).toMatchObject({ recreatedFrom: 'single', restored: 1 })
    expect(n8n.workflow(again[0]!.json.workflowId as string)!.name).toBe('Single')
  })

  it("names bad input and passes on the server's refusals (unknown version, viewer key)", async () => {
    await expect(rollback({ rollbackTo: 'version', version: 0 })).rejects.toThrow(
      'Item 0, field "Version": must be a version number (1, 2, 3…), got 0',
    )
    await expect(rollback({ rollbackTo: 'latest' })).rejects.toThrow(
      'Item 0, field "Roll Back To": must be previous or version, got "latest"',
    )
    const missing = await failure(rollback({ rollbackTo: 'version', version: 99 }))
    expect(missing.message).toBe('Homeostat: Version 99 of workflow orders not found [HTTP 404]')
    const viewer = await failure(
      run(
        { operation: 'rollbackWorkflow', instance: prod, workflowId: 'orders', rollbackTo: 'previous' },
        undefined,
        false,
        viewerCredentials,
      ),
    )
    expect(viewer.httpCode).toBe('403')
  })

  it('with Continue On Fail a bad item becomes an error item and the others are done', async () => {
    const { items: out } = await history(
      { workflowId: (j: Json) => j.id, returnAll: false, limit: 1 },
      [{ id: 'orders' }, { id: '' }, { id: 'orders' }],
      true,
    )
    expect(out.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }])
    expect(out[1]!.json).toEqual({ error: 'Item 1, field "Workflow ID": is empty' })
    expect(out[2]!.json).toMatchObject({ workflowId: 'orders', latestVersion: 5 })
    const { items: rolled } = await rollback(
      { rollbackTo: 'version', version: (j: Json) => j.v },
      [{ v: 99 }, { v: 2 }],
      true,
    )
    expect(rolled[0]!.json).toMatchObject({
      error: 'Homeostat: Version 99 of workflow orders not found [HTTP 404]',
      httpCode: '404',
    })
    expect(rolled[1]!.json).toMatchObject({ restored: 2, version: 6 })
  })
})

describe('Backup: Create Backup and List Backups', () => {
  const backup = (params: Record<string, unknown>, items?: Json[], continueOnFail = false, creds = credentials) =>
    run({ operation: 'createBackup', target: '', wait: false, ...params }, items, continueOnFail, creds)
  const list = (params: Record<string, unknown>, creds = credentials) =>
    run({ operation: 'listBackups', returnAll: true, filters: {}, ...params }, undefined, false, creds)
  const stored = async (id: string) =>
    (await (await t.app.request(`/api/v1/backups/${id}`, { headers: (await t.key('viewer')).headers })).json()) as Json

  it("backs up Homeostat's database and waits until it is verified (201, good); at once it is 202, running", async () => {
    const { items: waited, sent } = await backup({ wait: true })
    expect(sent[0]!.body).toEqual({ wait: true })
    expect(waited[0]!.json).toMatchObject({ target: 'homeostat', status: 'good', verifiedAt: expect.any(String) })
    expect(waited[0]!.pairedItem).toEqual({ item: 0 })
    expect(await stored(waited[0]!.json.id as string)).toMatchObject({ status: 'good', manifest: expect.any(Object) })

    const { items: now } = await backup({ target: 'homeostat' })
    expect(now[0]!.json).toMatchObject({ target: 'homeostat', status: 'running' })
    const done = await until('the backup finished', async () => {
      const b = await stored(now[0]!.json.id as string)
      return b.status === 'running' ? undefined : b
    })
    expect(done.status).toBe('good')
  })

  it("passes on the server's refusals: an unknown target (404), a viewer key (403)", async () => {
    const unknown = await failure(backup({ target: 'nope' }))
    expect(unknown.httpCode).toBe('404')
    expect(unknown.message).toMatch(/^Homeostat: .*not found \[HTTP 404\]$/)
    const viewer = await failure(backup({}, undefined, false, viewerCredentials))
    expect(viewer.httpCode).toBe('403')
    await expect(backup({ target: 'x'.repeat(101) })).rejects.toThrow(
      'Item 0, field "Target": must be at most 100 characters',
    )
    const { items: out } = await backup(
      { target: (j: Json) => j.t, wait: true },
      [{ t: 'nope' }, { t: 'homeostat' }],
      true,
    )
    expect(out[0]!.json).toMatchObject({ error: expect.stringContaining('[HTTP 404]'), httpCode: '404' })
    expect(out[1]!.json).toMatchObject({ target: 'homeostat', status: 'good' })
  })

  it('lists backups newest first with target and status filters, a limit, or all of them (viewer key)', async () => {
    const { items: all } = await list({}, viewerCredentials)
    expect(all.length).toBeGreaterThanOrEqual(3)
    expect(all.every((o) => o.json.target === 'homeostat' && o.pairedItem!.item === 0)).toBe(true)
    const started = all.map((o) => Date.parse(o.json.startedAt as string))
    expect([...started].sort((a, b) => b - a)).toEqual(started)
    const { items: two } = await list({ returnAll: false, limit: 2 })
    expect(two.map((o) => o.json.id)).toEqual(all.slice(0, 2).map((o) => o.json.id))
    const { items: good, sent } = await list({ filters: { target: 'homeostat', status: 'good' } })
    expect(good).toHaveLength(all.length)
    expect(new URL(sent[0]!.url).searchParams.get('status')).toBe('good')
    const { items: none } = await list({ filters: { status: 'failed' } })
    expect(none).toEqual([])
    await expect(list({ filters: { status: 'lost' } })).rejects.toThrow(
      'Item 0, field "Filters.Status": must be one of running, good, failed, pruned, got "lost"',
    )
  })

  it('a backup that fails verification fails the item with its reason (the answer with wait: 500 and the backup)', async () => {
    // The real app fails a verification only when the file is damaged underneath it: a loopback
    // stand-in answers what backups/snapshots/routes.ts answers then (500, the failed backup).
    const server = createServer((_req, res) =>
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          id: '01KFAILED',
          target: 'homeostat',
          status: 'failed',
          error: 'verification: row counts differ from the manifest',
        }),
      ),
    )
    const url = await listenLocal(server)
    try {
      const failed = await failure(backup({ wait: true }, undefined, false, { baseUrl: url, apiKey: 'hs_x' }))
      expect(failed.message).toBe(
        'Homeostat: backup 01KFAILED of homeostat failed: verification: row counts differ from the manifest [HTTP 500]',
      )
      expect(failed.httpCode).toBe('500')
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})
