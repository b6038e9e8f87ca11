/**
 * POST /api/v1/n8n/workflows/validate through the real app: one workflow, a set, an instance read
 * through its API (the n8n stand-in on loopback), the bad bodies, the body limit, and who may call it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'
import { connectsDuring } from '../helpers/connections.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'

const KEY = 'n8n-api-key-for-validator-tests'
const LIMIT = 64 * 1024
const t = await testApp({ WORKFLOW_PULL_MAX_RPS: '100', BODY_LIMIT_BYTES: String(LIMIT) })
const n8n = await startFakeN8n({ apiKey: KEY })
afterAll(async () => {
  await n8n.close()
  t.close()
})
const admin = await t.key('admin')
const op = await t.key('operator')
const viewer = await t.key('viewer')

const FIXTURES = join(import.meta.dirname, '../fixtures/n8n-workflows')
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>
const PATH = '/api/v1/n8n/workflows/validate'
const post = async (body: unknown, headers: Record<string, string> = op.headers) => {
  const res = await t.json('POST', PATH, body, headers)
  return { status: res.status, body: (await res.json()) as any }
}
async function addInstance(name: string, baseUrl: string) {
  const res = await t.json('POST', '/api/v1/healing/n8n-instances', { name, baseUrl, apiKey: KEY }, admin.headers)
  expect(res.status).toBe(201)
}

describe('validate workflows sent in the body', () => {
  it('one clean workflow: ok, no findings', async () => {
    const { status, body } = await post(fixture('clean/active-order-webhook.json'))
    expect(status).toBe(200)
    expect(body).toMatchObject({ ok: true, summary: { workflows: 1, errors: 0, warnings: 0 } })
    expect(body.workflows[0]).toMatchObject({ source: 'body', id: 'wfClean01', active: true, findings: [] })
  })

  it('one broken workflow: ok false, the finding names rule, severity and node', async () => {
    const { status, body } = await post(fixture('broken/code-syntax.json'))
    expect(status).toBe(200)
    expect(body.ok).toBe(false)
    expect(body.workflows[0].findings).toEqual([
      { rule: 'code-syntax', severity: 'error', node: 'Shape order', message: expect.stringContaining('(2:39)') },
    ])
  })

  it('a set: duplicate webhooks are found across it; warnings fail only with strict', async () => {
    const [a, b] = fixture('broken/duplicate-webhook.json') as unknown as unknown[]
    const dup = await post({ workflows: [a, b] })
    expect(dup.body.workflows.map((w: any) => w.source)).toEqual(['workflows[0]', 'workflows[1]'])
    expect(dup.body.summary.errors).toBe(2)
    const warn = fixture('broken/orphan-node.json')
    expect((await post({ workflows: [warn] })).body.ok).toBe(true)
    expect((await post({ workflows: [warn], strict: true })).body.ok).toBe(false)
  })

  it('credentials given in the body are checked', async () => {
    const wf = fixture('broken/credential-missing.json')
    const { body } = await post({ workflows: [wf], credentials: [{ id: 'cred1', name: 'ERP token', type: 'x' }] })
    expect(body.workflows[0].findings.map((f: any) => f.rule)).toEqual(['credential-missing'])
    expect((await post({ workflows: [wf] })).body.ok).toBe(true) // nothing known about the instance: not checked
  })

  it('a malformed workflow is a shape finding in the report, not a 400', async () => {
    const { status, body } = await post({ workflows: [{ name: 'x', nodes: 'no' }] })
    expect(status).toBe(200)
    expect(body.workflows[0].findings.map((f: any) => f.message)).toEqual([
      'nodes: must be a list of nodes',
      'connections: is missing',
    ])
  })
})

describe('bad requests', () => {
  it('400 naming the field: neither a workflow (nodes), workflows nor instance; a misspelt option', async () => {
    const empty = await post({})
    expect(empty.status).toBe(400)
    expect(empty.body.error.details).toEqual([
      { field: 'workflows', message: expect.stringContaining('send one workflow') },
    ])
    const misspelt = await post({ workflows: [{}], strcit: true })
    expect(misspelt.status).toBe(400)
    expect(misspelt.body.error.details).toEqual([{ field: 'strcit', message: 'unknown field' }])
    const noNodes = await post({ nodes: 'none' })
    expect(noNodes.body.error.details).toEqual([{ field: 'nodes', message: 'must be a list of nodes' }])
  })

  it('400: workflows not a list, empty, too many; instance beside workflows; bad credentials', async () => {
    const cases: [unknown, string][] = [
      [{ workflows: 'x' }, 'workflows'],
      [{ workflows: [] }, 'workflows'],
      [{ workflows: Array(1001).fill(1) }, 'workflows'],
      [{ instance: 'prod', workflows: [{}] }, 'instance'],
      [{ instance: '' }, 'instance'],
      [{ workflows: [{}], credentials: [{ id: 7 }] }, 'credentials.0.id'],
      [{ workflows: [{}], strict: 'yes' }, 'strict'],
    ]
    for (const [input, field] of cases) {
      const { status, body } = await post(input)
      expect(status, JSON.stringify(input)).toBe(400)
      expect(body.error.details.map((d: any) => d.field)).toContain(field)
    }
  })

  it('400 for an array body, 415 for another content type, 413 over the body limit', async () => {
    expect((await post([fixture('clean/error-handler.json')])).status).toBe(400)
    const text = await t.app.request(PATH, {
      method: 'POST',
      body: 'x',
      headers: { ...op.headers, 'Content-Type': 'text/plain' },
    })
    expect(text.status).toBe(415)
    const big = { workflows: [{ name: 'x'.repeat(LIMIT), nodes: [], connections: {} }] }
    const res = await post(big)
    expect(res.status).toBe(413)
    expect(res.body.error.code).toBe('payload_too_large')
  })

  it('RBAC: operators and admins; a viewer is refused (403), no credentials 401', async () => {
    const wf = fixture('clean/error-handler.json')
    expect((await post(wf, admin.headers)).status).toBe(200)
    expect((await post(wf, viewer.headers)).status).toBe(403)
    expect((await post(wf, {})).status).toBe(401)
  })
})

describe('validate an instance through its API', async () => {
  const clean = fixture('clean/active-order-webhook.json') as any
  n8n.addWorkflow('wfClean01', clean.name, true, clean)
  const pinned = fixture('broken/pinned-data.json') as any
  n8n.addWorkflow('wfPinned', pinned.name, false, pinned)
  const custom = fixture('clean/error-handler.json') as any
  custom.nodes[1].credentials = { notInstalledApi: { id: 'c9', name: 'Plugin' } }
  n8n.addWorkflow('errWf1', custom.name, false, custom)
  n8n.addCredentialType('httpHeaderAuth')
  await addInstance('prod', n8n.url)

  it('reads every workflow with its pin data, checks credential types with one call each', async () => {
    const before = n8n.requests.length
    const { status, body } = await post({ instance: 'prod' })
    expect(status).toBe(200)
    expect(body).toMatchObject({ instance: 'prod', ok: false, summary: { workflows: 3, errors: 1, warnings: 1 } })
    const bySource = Object.fromEntries(body.workflows.map((w: any) => [w.source, w.findings.map((f: any) => f.rule)]))
    expect(bySource).toEqual({
      'prod/wfClean01': [],
      'prod/wfPinned': ['pinned-data'],
      'prod/errWf1': ['credential-missing'],
    })
    const calls = n8n.requests.slice(before).map((r) => `${r.method} ${r.path}`)
    expect(calls.sort()).toEqual([
      'GET /api/v1/credentials/schema/httpHeaderAuth',
      'GET /api/v1/credentials/schema/notInstalledApi',
      'GET /api/v1/workflows',
    ])
    expect(n8n.requests.at(-1)!.apiKey).toBe(KEY)
    expect(body.calls).toBe(3)
  })

  it('with the instance credentials listed in the body, a credential id it lacks is an error too', async () => {
    const { body } = await post({ instance: 'prod', credentials: [{ id: 'other', name: 'x', type: 'httpHeaderAuth' }] })
    const clean = body.workflows.find((w: any) => w.source === 'prod/wfClean01')
    expect(clean.findings).toMatchObject([{ rule: 'credential-missing', node: 'Send to ERP' }])
  })

  it('404 for an unknown instance; 502 n8n_unreachable when it is down; 502 n8n_error on its errors', async () => {
    const missing = await post({ instance: 'nope' })
    expect(missing.status).toBe(404)
    const down = await startFakeN8n({ apiKey: KEY })
    await addInstance('down', down.url)
    await down.close()
    expect((await post({ instance: 'down' })).body.error.code).toBe('n8n_unreachable')
    n8n.failNext(401)
    const refused = await post({ instance: 'prod' })
    expect(refused.status).toBe(502)
    expect(refused.body.error).toMatchObject({ code: 'n8n_error', message: expect.stringContaining('HTTP 401') })
  })

  it('an instance at an address the outbound policy refuses is never connected to', async () => {
    const strict = await testApp({ OUTBOUND_ALLOW: '' })
    try {
      const key = await strict.key('admin')
      const add = await strict.json(
        'POST',
        '/api/v1/healing/n8n-instances',
        { name: 'meta', baseUrl: 'http://169.254.169.254', apiKey: KEY },
        key.headers,
      )
      expect(add.status).toBe(201)
      let res: Response | undefined
      const connects = await connectsDuring(async () => {
        res = await strict.json('POST', PATH, { instance: 'meta' }, key.headers)
      })
      expect(connects).toBe(0)
      expect(res!.status).toBe(502)
      expect(((await res!.json()) as any).error.code).toBe('n8n_unreachable')
    } finally {
      strict.close()
    }
  })
})
