import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { and, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { workflowVersions } from '../../db/schema/workflow-versions.ts'
import { createWorkflowHistory } from '../../app/modules/backups/index.ts'
import { workflowPullJob } from '../../jobs/workflow-pull.ts'
import { testApp } from '../helpers/app.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'

const KEY = 'n8n-api-key-for-tests'
const t = await testApp({ WORKFLOW_PULL_MAX_RPS: '100' })
const n8n = await startFakeN8n({ apiKey: KEY })
const other = await startFakeN8n({ apiKey: KEY, deactivateOnUpdate: true })
afterAll(async () => {
  await n8n.close()
  await other.close()
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
const pull = async (body: Record<string, unknown> = { instance: inst }) => {
  const res = await t.json('POST', '/api/v1/n8n/pull', body, op.headers)
  expect(res.status).toBe(200)
  return ((await res.json()) as { items: any[] }).items
}
const versions = async (id: string, instance = inst) =>
  (await get(`/api/v1/n8n/workflows/${id}/versions?instance=${instance}`)).body.items as any[]

describe('pull', () => {
  it('stores a first version of every workflow, then none while nothing changes', async () => {
    n8n.addWorkflow('w1', 'Orders', true)
    n8n.addWorkflow('w2', 'Invoices')
    const [first] = await pull()
    expect(first).toMatchObject({ workflows: 2, created: 2, unchanged: 0, missing: 0 })
    const [second] = await pull()
    expect(second).toMatchObject({ workflows: 2, created: 0, unchanged: 2 })
    const list = (await get(`/api/v1/n8n/workflows?instance=${inst}`)).body.items
    expect(list.map((w: any) => [w.id, w.name, w.versions])).toEqual([
      ['w2', 'Invoices', 1],
      ['w1', 'Orders', 1],
    ])
    const [v1] = await versions('w1')
    // The active version's authors come with n8n's list; an inactive first sight costs no call and is unknown.
    expect(v1).toMatchObject({ version: 1, kind: 'pull', author: 'Ada Lovelace', active: true })
    expect((await versions('w2'))[0].author).toBe('unknown')
  })

  it('does not count a move on the canvas or a new versionId as a version; a parameter change is one', async () => {
    n8n.editWorkflow('w2', (w) => void (w.nodes[0]!.position = [300, 120]))
    expect((await pull())[0]).toMatchObject({ created: 0 })
    n8n.editWorkflow(
      'w2',
      (w) => {
        w.nodes.push({
          id: 'w2-http',
          name: 'HTTP',
          type: 'n8n-nodes-base.httpRequest',
          typeVersion: 4,
          position: [200, 0],
          parameters: { url: 'https://example.com/a' },
        })
        w.connections = { Start: { main: [[{ node: 'HTTP', type: 'main', index: 0 }]] } }
      },
      'Grace Hopper',
    )
    const before = n8n.requests.length
    expect((await pull())[0]).toMatchObject({ created: 1, unchanged: 1 })
    // The changed inactive workflow's author is read from n8n's workflow history.
    expect(n8n.requests.slice(before).some((r) => /^\/api\/v1\/workflows\/w2\/[\w-]+$/.test(r.path))).toBe(true)
    const vs = await versions('w2')
    expect(vs.map((v: any) => [v.version, v.author])).toEqual([
      [2, 'Grace Hopper'],
      [1, 'unknown'],
    ])
  })

  it('pages through n8n with its cursor and sends the API key', async () => {
    const paged = await startFakeN8n({ apiKey: KEY })
    try {
      for (let i = 0; i < 230; i++) paged.addWorkflow(`p${i}`, `Flow ${i}`)
      const id = await addInstance('paged', paged.url)
      const [r] = await pull({ instance: id })
      expect(r).toMatchObject({ workflows: 230, created: 230, calls: 3 })
      const lists = paged.requests.filter((q) => q.path === '/api/v1/workflows')
      expect(lists).toHaveLength(3)
      expect(lists.every((q) => q.apiKey === KEY)).toBe(true)
      expect((await get(`/api/v1/n8n/workflows?instance=${id}`)).body.items).toHaveLength(230)
      // The export reads the history a page (200 rows) at a time: 230 versions span two pages.
      const res = await t.app.request(`/api/v1/n8n/instances/${id}/export`, { headers: admin.headers })
      const dir = mkdtempSync(join(tmpdir(), 'wf-export-'))
      try {
        writeFileSync(join(dir, 'x.tar'), Buffer.from(await res.arrayBuffer()))
        const names = execFileSync('tar', ['-tf', join(dir, 'x.tar')], { encoding: 'utf8' })
          .trim()
          .split('\n')
        expect(new Set(names).size).toBe(230)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    } finally {
      await paged.close()
    }
  })

  it('backs off on 429 and 5xx and then succeeds; an unreachable instance is reported, not thrown', async () => {
    const waits: number[] = []
    const wh = createWorkflowHistory({
      ...t.services,
      log: t.services.log,
      positions: false,
      // Spacing of 1 ms between calls; backoffs of 50 ms and more: the two kinds of wait cannot be confused.
      maxRps: 1000,
      backoffMs: 50,
      sleep: async (ms) => void waits.push(ms),
    })
    n8n.failNext(429)
    n8n.failNext(503)
    const [r] = await wh.pull(Date.now(), inst)
    expect(r).toMatchObject({ created: 0, unchanged: 2 })
    expect(r!.error).toBeUndefined()
    expect(waits.filter((w) => w >= 50)).toEqual([50, 100])

    n8n.failNext(500, 5)
    const [failed] = await wh.pull(Date.now(), inst)
    expect(failed!.error).toMatch(/HTTP 500/)
    expect(failed!.calls).toBe(5) // one try and four retries

    const dead = await addInstance('dead', 'http://127.0.0.1:9')
    const results = await pull({})
    expect(results.find((x) => x.instance.id === dead).error).toMatch(/unreachable/)
    expect(results.find((x) => x.instance.id === inst).error).toBeUndefined()
  })

  it('the pull job pulls every instance', async () => {
    n8n.editWorkflow('w1', (w) => void (w.settings.timezone = 'Europe/Berlin'))
    const counts = await workflowPullJob(t.services.workflowHistory, '*/5 * * * *').handler({
      now: Date.now(),
      tick: 1,
      log: t.services.log,
    })
    expect(counts).toMatchObject({ created: 1 })
  })

  it('stores the workflow JSON sealed', async () => {
    const [row] = await t.db
      .select()
      .from(workflowVersions)
      .where(and(eq(workflowVersions.instanceId, inst), eq(workflowVersions.workflowId, 'w2')))
    expect(row!.content.startsWith('v2.')).toBe(true)
    expect(row!.content).not.toContain('Start')
  })
})

describe('versions and diff', () => {
  it('returns a version with its JSON and a structured diff', async () => {
    const { status, body } = await get(`/api/v1/n8n/workflows/w2/versions/2?instance=${inst}`)
    expect(status).toBe(200)
    expect(body.workflow.nodes.map((n: any) => n.name)).toEqual(['Start', 'HTTP'])
    const diff = (await get(`/api/v1/n8n/workflows/w2/diff?instance=${inst}&from=1&to=2`)).body
    expect(diff.nodes.added).toEqual([{ name: 'HTTP', type: 'n8n-nodes-base.httpRequest' }])
    expect(diff.connections.added).toEqual([
      { from: 'Start', type: 'main', output: 0, to: 'HTTP', toType: 'main', input: 0 },
    ])
    expect(diff.same).toBe(false)
  })

  it('names bad fields and answers 404 for unknown versions', async () => {
    let r = await get('/api/v1/n8n/workflows/w2/diff?from=1&to=x')
    expect(r.status).toBe(400)
    expect(r.body.error.details.map((d: any) => d.field).sort()).toEqual(['instance', 'to'])
    r = await get(`/api/v1/n8n/workflows/w2/versions/0?instance=${inst}`)
    expect(r.status).toBe(400)
    expect(r.body.error.details[0].field).toBe('v')
    r = await get(`/api/v1/n8n/workflows/w2/versions/9?instance=${inst}`)
    expect(r.status).toBe(404)
    r = await get(`/api/v1/n8n/workflows/w2/versions?instance=${inst}&bogus=1`)
    expect(r.status).toBe(400)
    expect(r.body.error.details[0].field).toBe('bogus')
  })

  it('pages versions by cursor', async () => {
    const first = (await get(`/api/v1/n8n/workflows/w2/versions?instance=${inst}&limit=1`)).body
    expect(first.items.map((v: any) => v.version)).toEqual([2])
    const next = (await get(`/api/v1/n8n/workflows/w2/versions?instance=${inst}&limit=1&cursor=${first.next}`)).body
    expect(next.items.map((v: any) => v.version)).toEqual([1])
    expect(next.next).toBeNull()
  })
})

describe('rollback', () => {
  const rollback = (id: string, body: unknown, instance = inst, headers = op.headers) =>
    t.json('POST', `/api/v1/n8n/workflows/${id}/rollback?instance=${instance}`, body, headers)

  it('puts an earlier version back with the same id and active state, recorded in history and audit', async () => {
    const before = n8n.workflow('w1')!
    expect(before.active).toBe(true)
    const res = await rollback('w1', { to: 'previous' })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ workflowId: 'w1', restored: 1, version: 3, active: true })
    const now = n8n.workflow('w1')!
    expect(now.active).toBe(true)
    // n8n merges settings: the timezone added in version 2 stays (documented).
    expect(now.settings).toMatchObject({ executionOrder: 'v1' })
    const put = n8n.requests.findLast((r) => r.method === 'PUT')!
    expect(put.path).toBe('/api/v1/workflows/w1')
    expect(Object.keys(put.body as object).sort()).toEqual(['connections', 'name', 'nodes', 'settings'])
    const vs = await versions('w1')
    expect(vs[0]).toMatchObject({
      version: 3,
      kind: 'rollback',
      restoredVersion: 1,
      author: expect.stringMatching(/^key:hs_/),
    })
    const [row] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'workflow.rolled_back'))
    expect(row).toMatchObject({ target: 'prod/w1' })
    // The next pull sees what the rollback stored: no new version.
    expect((await pull())[0]).toMatchObject({ created: 0 })
  })

  it('stores a change made in n8n since the last pull before rolling back', async () => {
    n8n.editWorkflow('w2', (w) => void (w.name = 'Invoices (edited)'))
    const res = await rollback('w2', { to: 1 })
    expect(res.status).toBe(200)
    const vs = await versions('w2')
    expect(vs.map((v: any) => [v.version, v.kind, v.name])).toEqual([
      [4, 'rollback', 'Invoices'],
      [3, 'pull', 'Invoices (edited)'],
      [2, 'pull', 'Invoices'],
      [1, 'pull', 'Invoices'],
    ])
    expect(n8n.workflow('w2')!.nodes).toHaveLength(1)
  })

  it('activates again when n8n comes back inactive after the update', async () => {
    const id = await addInstance('deactivating', other.url)
    other.addWorkflow('x1', 'Sync', true)
    await pull({ instance: id })
    other.editWorkflow('x1', (w) => void (w.nodes[0]!.parameters = { note: 'changed' }))
    await pull({ instance: id })
    const res = await rollback('x1', { to: 1 }, id)
    expect(res.status).toBe(200)
    expect(other.workflow('x1')!.active).toBe(true)
    expect(other.requests.some((r) => r.path === '/api/v1/workflows/x1/activate')).toBe(true)
  })

  it('refuses a deleted workflow unless re-create is asked, then creates it again', async () => {
    n8n.deleteWorkflow('w2')
    let res = await rollback('w2', { to: 2 })
    expect(res.status).toBe(409)
    const err = ((await res.json()) as any).error
    expect(err.code).toBe('workflow_deleted')
    expect(err.message).toMatch(/recreate/)
    res = await rollback('w2', { to: 2, recreate: true })
    expect(res.status).toBe(200)
    const body = (await res.json()) as any
    expect(body).toMatchObject({ recreatedFrom: 'w2', restored: 2 })
    expect(n8n.workflow(body.workflowId)!.nodes.map((n) => n.name)).toEqual(['Start', 'HTTP'])
    expect((await versions(body.workflowId))[0]).toMatchObject({ kind: 'recreate', restoredVersion: 2 })
  })

  it('refuses when the instance is unreachable, naming it', async () => {
    // An instance that answered once, then moved to an address where nothing listens.
    const dead = await addInstance('gone', n8n.url)
    await pull({ instance: dead })
    const moved = await t.json(
      'PATCH',
      `/api/v1/healing/n8n-instances/${dead}`,
      { baseUrl: 'http://127.0.0.1:9', apiKey: KEY },
      admin.headers,
    )
    expect(moved.status).toBe(200)
    const res = await rollback('w1', { to: 1 }, dead)
    expect(res.status).toBe(502)
    const err = ((await res.json()) as any).error
    expect(err.code).toBe('n8n_unreachable')
    expect(err.message).toMatch(/gone/)
  })

  it('names bad fields, and refuses unknown workflows and versions', async () => {
    let res = await rollback('w1', { to: 'latest', extra: 1 })
    expect(res.status).toBe(400)
    const fields = ((await res.json()) as any).error.details.map((d: any) => d.field).sort()
    expect(fields).toEqual(['extra', 'to'])
    res = await t.json('POST', '/api/v1/n8n/workflows/w1/rollback', { to: 1 }, op.headers)
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error.details[0].field).toBe('instance')
    expect((await rollback('nope', { to: 1 })).status).toBe(404)
    expect((await rollback('w1', { to: 99 })).status).toBe(404)
  })
})

describe('export', () => {
  it('streams a tar with one JSON file per version in instance/workflow folders', async () => {
    const res = await t.app.request(`/api/v1/n8n/instances/${inst}/export`, { headers: admin.headers })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-tar')
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="prod-workflows-/)
    const dir = mkdtempSync(join(tmpdir(), 'wf-export-'))
    try {
      const file = join(dir, 'x.tar')
      writeFileSync(file, Buffer.from(await res.arrayBuffer()))
      const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n')
      const rows = await t.db.select().from(workflowVersions).where(eq(workflowVersions.instanceId, inst))
      expect(names).toHaveLength(rows.length)
      expect(names.filter((n) => n.startsWith('prod/Orders-w1/')).map((n) => n.slice(15, 19))).toEqual([
        '0001',
        '0002',
        '0003',
      ])
      execFileSync('tar', ['-xf', file, '-C', dir])
      const v1 = JSON.parse(readFileSync(join(dir, names.find((n) => n.startsWith('prod/Orders-w1/0001'))!), 'utf8'))
      expect(v1).toMatchObject({ instance: 'prod', workflowId: 'w1', version: 1, workflow: { name: 'Orders' } })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.action, 'workflows.exported'))
    expect(rows.map((r) => r.target)).toContain('prod')
  })

  it('answers 404 for an unknown instance', async () => {
    expect((await t.app.request('/api/v1/n8n/instances/nope/export', { headers: admin.headers })).status).toBe(404)
  })
})

describe('access', () => {
  it('viewers read; operators pull and roll back; only admins export', async () => {
    const cases: [string, string, unknown, Record<'viewer' | 'op' | 'admin', number>][] = [
      ['GET', `/api/v1/n8n/workflows`, undefined, { viewer: 200, op: 200, admin: 200 }],
      ['GET', `/api/v1/n8n/workflows/w1/versions?instance=${inst}`, undefined, { viewer: 200, op: 200, admin: 200 }],
      [
        'GET',
        `/api/v1/n8n/workflows/w1/diff?instance=${inst}&from=1&to=2`,
        undefined,
        { viewer: 200, op: 200, admin: 200 },
      ],
      ['POST', '/api/v1/n8n/pull', { instance: inst }, { viewer: 403, op: 200, admin: 200 }],
      ['POST', `/api/v1/n8n/workflows/w1/rollback?instance=${inst}`, { to: 'x' }, { viewer: 403, op: 400, admin: 400 }],
      ['GET', `/api/v1/n8n/instances/${inst}/export`, undefined, { viewer: 403, op: 403, admin: 200 }],
    ]
    const who = { viewer: viewer.headers, op: op.headers, admin: admin.headers }
    for (const [method, path, body, expected] of cases)
      for (const role of ['viewer', 'op', 'admin'] as const) {
        const res =
          method === 'GET'
            ? await t.app.request(path, { headers: who[role] })
            : await t.json(method, path, body, who[role])
        expect(`${role} ${method} ${path} ${res.status}`).toBe(`${role} ${method} ${path} ${expected[role]}`)
      }
    expect((await t.app.request('/api/v1/n8n/workflows')).status).toBe(401)
  })

  it('is in the OpenAPI document', async () => {
    const doc = (await get('/api/v1/openapi.json')).body
    for (const p of [
      '/api/v1/n8n/workflows',
      '/api/v1/n8n/workflows/{id}/versions',
      '/api/v1/n8n/workflows/{id}/versions/{v}',
      '/api/v1/n8n/workflows/{id}/diff',
      '/api/v1/n8n/workflows/{id}/rollback',
      '/api/v1/n8n/pull',
      '/api/v1/n8n/instances/{id}/export',
    ])
      expect(Object.keys(doc.paths)).toContain(p)
  })
})

describe('pages', () => {
  it('lists workflows, shows the timeline, the diff and the JSON side by side; rollback only for operators', async () => {
    const v = await t.session('viewer')
    expect(await (await t.app.request('/backups', { headers: v.headers })).text()).toContain(
      'href="/backups/workflows"',
    )
    let res = await t.app.request('/backups/workflows', { headers: v.headers })
    expect(res.status).toBe(200)
    let html = await res.text()
    expect(html).toContain('Orders')
    expect(html).not.toContain('Pull now')
    res = await t.app.request(`/backups/workflows/history?instance=${inst}&id=w1&from=1&to=2`, { headers: v.headers })
    html = await res.text()
    expect(res.status).toBe(200)
    expect(html).toContain('data-version="3"')
    expect(html).toContain('json-sides')
    expect(html).toContain('timezone')
    expect(html).not.toContain('Roll back to')

    const o = await t.session('operator')
    html = await (
      await t.app.request(`/backups/workflows/history?instance=${inst}&id=w1`, { headers: o.headers })
    ).text()
    expect(html).toContain('Roll back to v1')
    expect(html).toContain('hx-confirm')
    res = await t.app.request('/backups/workflows/rollback', {
      method: 'POST',
      headers: { ...o.headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: new URLSearchParams({ instance: inst, id: 'w1', to: '2' }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('HX-Redirect')).toContain('/backups/workflows/history?')
    expect((await versions('w1'))[0]).toMatchObject({ kind: 'rollback', restoredVersion: 2 })
    res = await t.app.request('/backups/workflows/rollback', {
      method: 'POST',
      headers: { ...v.headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: new URLSearchParams({ instance: inst, id: 'w1', to: '1' }),
    })
    expect(res.status).toBe(403)
  })
})
