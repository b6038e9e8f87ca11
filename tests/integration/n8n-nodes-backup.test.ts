/**
 * The Homeostat Backup node. Get Workflow History and Roll Back Workflow run against the real app
 * on a loopback port (through the n8n context harness), with a fake n8n (loopback) behind it; each
 * is checked by what Homeostat stored and what n8n holds. Create Backup and List Backups are coded
 * against the snapshots API of branch s-snap (backups/snapshots/routes.ts, input.ts, json.ts), which
 * is not in this branch yet: until it is merged they run against a loopback stand-in that answers
 * exactly those shapes (202/201/500 with the backup, cursor pages, the `{error}` body naming fields).
 */
import { createServer } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { listenLocal, readBody } from '../helpers/http.ts'
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

/** The snapshots API of s-snap (see the header): its shapes, over HTTP on loopback, with the same key check. */
async function startSnapshotsApi(apiKey: string) {
  const backups: Json[] = []
  const created: unknown[] = []
  const backup = (n: number, target: string, status: string, extra: Json = {}) => ({
    id: `b${String(n).padStart(3, '0')}`,
    targetId: `t-${target}`,
    target,
    kind: target === 'homeostat' ? 'homeostat' : 'command',
    status,
    trigger: 'manual',
    destination: 'local',
    location: `${target}/b${n}.db.gz`,
    size: status === 'good' ? 4096 + n : null,
    sha256: status === 'good' ? 'ab'.repeat(32) : null,
    encryption: null,
    error: null,
    createdBy: 'key:hs_test',
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
    finishedAt: status === 'running' ? null : new Date(Date.UTC(2026, 0, 1, 0, n, 5)).toISOString(),
    durationMs: status === 'running' ? null : 5000,
    verifiedAt: status === 'good' ? new Date(Date.UTC(2026, 0, 1, 0, n, 6)).toISOString() : null,
    verifyMs: status === 'good' ? 800 : null,
    ...extra,
  })
  // More than one page of 500, so Return All follows the cursor.
  for (let n = 1; n <= 520; n++) backups.unshift(backup(n, n % 2 ? 'homeostat' : 'qdrant', n % 4 ? 'good' : 'failed'))
  const error = (status: number, code: string, message: string, details: Json[] = []) => ({
    status,
    body: { error: { code, message, details, requestId: 'req-1' } },
  })
  const server = createServer(async (req, res) => {
    const { json } = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://x')
    const answer = (() => {
      if (req.headers.authorization !== `Bearer ${apiKey}`) return error(401, 'unauthorized', 'API key not recognised')
      if (url.pathname === '/api/v1/backups' && req.method === 'GET') {
        const status = url.searchParams.get('status')
        if (status && !['running', 'good', 'failed', 'pruned'].includes(status))
          return error(400, 'invalid_input', 'Invalid query', [
            { field: 'status', message: 'must be one of running, good, failed, pruned' },
          ])
        const limit = Number(url.searchParams.get('limit') ?? 50)
        const target = url.searchParams.get('target')
        const after = url.searchParams.get('cursor')
        const all = backups.filter((b) => (!target || b.target === target) && (!status || b.status === status))
        const start = after ? all.findIndex((b) => b.id === after) + 1 : 0
        const items = all.slice(start, start + limit)
        return { status: 200, body: { items, next: start + limit < all.length ? items.at(-1)!.id : null } }
      }
      if (url.pathname === '/api/v1/backups' && req.method === 'POST') {
        created.push(json)
        const body = (json ?? {}) as Json
        const unknown = Object.keys(body).filter((k) => k !== 'target' && k !== 'wait')
        if (unknown.length)
          return error(
            400,
            'invalid_input',
            'Invalid body',
            unknown.map((field) => ({ field, message: 'Invalid key' })),
          )
        const target = (body.target as string | undefined) ?? 'homeostat'
        if (!['homeostat', 'qdrant', 'broken'].includes(target))
          return error(404, 'not_found', 'Backup target not found')
        const n = backups.length + 1
        if (!body.wait) return { status: 202, body: backup(n, target, 'running') }
        if (target === 'broken')
          return {
            status: 500,
            body: backup(n, target, 'failed', { error: 'verification: row counts differ from the manifest' }),
          }
        return { status: 201, body: backup(n, target, 'good') }
      }
      return error(404, 'not_found', 'Not found')
    })()
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body))
  })
  return { url: await listenLocal(server), created, close: () => new Promise<void>((r) => server.close(() => r())) }
}

describe('Backup: Create Backup and List Backups (snapshots API of s-snap)', () => {
  let api: Awaited<ReturnType<typeof startSnapshotsApi>>
  let creds: { baseUrl: string; apiKey: string }
  beforeAll(async () => {
    api = await startSnapshotsApi('hs_snapshot_key')
    creds = { baseUrl: api.url, apiKey: 'hs_snapshot_key' }
  })
  afterAll(() => api.close())
  const backups = (params: Record<string, unknown>, items?: Json[], continueOnFail = false) =>
    run(params, items, continueOnFail, creds)

  it('creates a backup of the default target at once (202, running), or of a target waiting for verification', async () => {
    const { items: out } = await backups({ operation: 'createBackup', target: '', wait: false })
    expect(out[0]!.json).toMatchObject({ target: 'homeostat', status: 'running' })
    const { items: waited } = await backups({ operation: 'createBackup', target: 'qdrant', wait: true })
    expect(waited[0]!.json).toMatchObject({ target: 'qdrant', status: 'good', verifiedAt: expect.any(String) })
    expect(api.created).toEqual([{ wait: false }, { target: 'qdrant', wait: true }])
  })

  it('a backup that fails verification fails the item with its reason; an unknown target is the server 404', async () => {
    const failed = await failure(backups({ operation: 'createBackup', target: 'broken', wait: true }))
    expect(failed.message).toMatch(
      /^Homeostat: backup b\d+ of broken failed: verification: row counts differ from the manifest \[HTTP 500\]$/,
    )
    expect(failed.httpCode).toBe('500')
    const unknown = await failure(backups({ operation: 'createBackup', target: 'nope' }))
    expect(unknown.message).toBe('Homeostat: Backup target not found [HTTP 404]')
    await expect(backups({ operation: 'createBackup', target: 'x'.repeat(101) })).rejects.toThrow(
      'Item 0, field "Target": must be at most 100 characters',
    )
    const { items: out } = await backups(
      { operation: 'createBackup', target: (j: Json) => j.t, wait: true },
      [{ t: 'broken' }, { t: 'homeostat' }],
      true,
    )
    expect(out[0]!.json).toMatchObject({ error: expect.stringContaining('failed: verification'), httpCode: '500' })
    expect(out[1]!.json).toMatchObject({ status: 'good' })
  })

  it('lists backups with target and status filters, a limit, or all of them across cursor pages', async () => {
    const { items: good } = await backups({
      operation: 'listBackups',
      returnAll: true,
      filters: { target: 'homeostat', status: 'good' },
    })
    expect(good.length).toBeGreaterThan(0)
    expect(good.every((o) => o.json.target === 'homeostat' && o.json.status === 'good')).toBe(true)
    expect(good.every((o) => o.pairedItem!.item === 0)).toBe(true)
    const { items: two } = await backups({ operation: 'listBackups', returnAll: false, limit: 2, filters: {} })
    expect(two).toHaveLength(2)
    const { items: all, sent } = await backups({ operation: 'listBackups', returnAll: true, filters: {} })
    expect(all).toHaveLength(520)
    expect(new Set(all.map((o) => o.json.id)).size).toBe(all.length)
    expect(sent.map((s) => new URL(s.url).searchParams.get('limit'))).toEqual(['500', '500'])
    expect(new URL(sent[1]!.url).searchParams.get('cursor')).toBe(all[499]!.json.id)
    await expect(backups({ operation: 'listBackups', returnAll: true, filters: { status: 'lost' } })).rejects.toThrow(
      'Item 0, field "Filters.Status": must be one of running, good, failed, pruned, got "lost"',
    )
  })
})
