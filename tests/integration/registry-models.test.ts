/**
 * The registry's models half against the real app, a real libSQL file and a stand-in Ollama on
 * 127.0.0.1 (tests/helpers/fake-ollama.ts): models and versions (idempotent creates), Modelfiles
 * refused line by line, hosts with a sealed auth header, deploy (JSON and NDJSON), failure mid-stream,
 * rollback (copy only, and create again), aliases and a model route following one, archive,
 * registry events to a signed webhook subscription, RBAC and bad input named by field.
 */
import { and, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { deploymentHistory, ollamaHosts } from '../../db/schema/registry.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { hostAuthAad } from '../../app/modules/registry/hosts/store.ts'
import { createRoot } from '../../app/root.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'
import { startFakeOllama } from '../helpers/fake-ollama.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

type Json = Record<string, any>
const t = await testApp()
const ollama = await startFakeOllama({ models: ['qwen2.5:7b'] })
const TOKEN = 'Bearer proxy-token-s3cr3t-value'
const guarded = await startFakeOllama({
  models: ['qwen2.5:7b'],
  requireHeader: { name: 'Authorization', value: TOKEN },
})
const rx = await startReceiver()
afterAll(async () => {
  await Promise.all([ollama.close(), guarded.close(), rx.close()])
  t.close()
})
const { op, viewer } = await roleHeaders(t)

const modelfile = (system: string, extra = '') =>
  `# ${system}\nFROM qwen2.5:7b\nPARAMETER temperature 0.2\nPARAMETER stop "<|im_end|>"\nSYSTEM """${system}"""\n${extra}`

async function ok(res: Response, status = 200) {
  const text = await res.clone().text()
  expect(res.status, text).toBe(status)
  return (await res.json()) as Json
}
const get = (path: string, headers = viewer) => t.app.request(path, { headers })
let n = 0
async function model(id = `m${++n}`) {
  await ok(await t.json('POST', '/api/v1/models', { id, baseModel: 'qwen2.5:7b', tags: ['finance'] }, op), 201)
  return id
}
const version = (id: string, v: string, system = `v${v}`) =>
  t.json('POST', `/api/v1/models/${id}/versions`, { version: v, modelfile: modelfile(system) }, op)
const deploy = (id: string, v: string, host: string, headers: Record<string, string> = op) =>
  t.json('POST', `/api/v1/models/${id}/versions/${v}/deploy`, { host }, headers)
const hostByName: Record<string, string> = {}
async function host(name: string, url: string, authHeader?: { name: string; value: string }) {
  const body = await ok(
    await t.json('POST', '/api/v1/ollama-hosts', { name, url, ...(authHeader ? { authHeader } : {}) }, op),
    201,
  )
  hostByName[name] = body.id
  return body
}
await host('gpu-1', ollama.url)

describe('models and versions', () => {
  it('creates a model idempotently: the same create again answers it, another body is a 409', async () => {
    const body = {
      id: 'custom-qwen-finance',
      name: 'Finance Qwen',
      baseModel: 'qwen2.5:7b',
      tags: ['finance'],
      notes: 'n',
    }
    const first = await ok(await t.json('POST', '/api/v1/models', body, op), 201)
    expect(first).toMatchObject({
      id: 'custom-qwen-finance',
      name: 'Finance Qwen',
      createdBy: expect.stringMatching(/^key:/),
    })
    expect(await ok(await t.json('POST', '/api/v1/models', body, op), 200)).toEqual(first)
    const other = await t.json('POST', '/api/v1/models', { ...body, baseModel: 'llama3.2' }, op)
    expect(other.status).toBe(409)
    const listed = await ok(await get('/api/v1/models'))
    expect(listed.items.filter((m: Json) => m.id === 'custom-qwen-finance')).toHaveLength(1)
    const patched = await ok(
      await t.json('PATCH', '/api/v1/models/custom-qwen-finance', { description: 'invoices' }, op),
    )
    expect(patched.description).toBe('invoices')
    const audits = await t.db.select().from(auditLog).where(eq(auditLog.target, 'custom-qwen-finance'))
    expect(audits.map((a) => a.action).sort()).toEqual(['registry.model_created', 'registry.model_updated'])
  })

  it('adds versions with semver, previous version, Modelfile sha256 and training info; retries do not duplicate', async () => {
    const id = await model()
    const v1 = await ok(
      await t.json(
        'POST',
        `/api/v1/models/${id}/versions`,
        {
          version: '1.0.0',
          modelfile: modelfile('one'),
          training: {
            source: 'lora',
            datasetId: 'ds-7',
            recordCount: 1200,
            trainedAt: '2026-12-01T10:00:00Z',
            config: { epochs: 3 },
          },
        },
        op,
      ),
      201,
    )
    expect(v1).toMatchObject({
      version: '1.0.0',
      previousVersion: null,
      tag: `${id}:1.0.0`,
      status: 'ready',
      training: {
        source: 'lora',
        datasetId: 'ds-7',
        recordCount: 1200,
        trainedAt: '2026-12-01T10:00:00.000Z',
        config: { epochs: 3 },
      },
    })
    expect(v1.sha256).toMatch(/^[0-9a-f]{64}$/)
    const v2 = await ok(await version(id, '1.1.0-rc.1'), 201)
    expect(v2.previousVersion).toBe('1.0.0')
    expect((await version(id, '1.1.0-rc.1')).status).toBe(200)
    expect((await version(id, '1.1.0-rc.1', 'other text')).status).toBe(409)
    const listed = await ok(await get(`/api/v1/models/${id}/versions`))
    expect(listed.items.map((v: Json) => v.version)).toEqual(['1.1.0-rc.1', '1.0.0'])
    const status = await ok(
      await t.json('POST', `/api/v1/models/${id}/versions/1.0.0/status`, { status: 'deprecated' }, op),
    )
    expect(status.status).toBe('deprecated')
    const bad = await t.json(
      'POST',
      `/api/v1/models/${id}/versions`,
      { version: '2.0.0', previousVersion: '9.9.9', modelfile: modelfile('x') },
      op,
    )
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.details[0].field).toBe('previousVersion')
  })

  it('rejects bad Modelfiles line by line, on validate and on save (422), and saves nothing', async () => {
    const id = await model()
    const text = 'FROM qwen2.5:7b\nPARAMETER temperature hot\nPARAMETER num_ctx 1.5\nMESSAGE robot hi\nSYSTEM """open'
    const checkedRes = await t.json('POST', '/api/v1/models/validate', { modelfile: text }, viewer)
    expect(checkedRes.status).toBe(422)
    const checked = (await checkedRes.json()).error.details
    const expected = [
      { line: 2, message: 'PARAMETER temperature must be a number, not "hot"' },
      { line: 3, message: 'PARAMETER num_ctx must be an integer, not "1.5"' },
      { line: 4, message: 'MESSAGE role must be system, user or assistant, not "robot"' },
      { line: 5, message: 'unterminated """ value (opened here, never closed)' },
    ]
    expect(checked.errors).toEqual(expected)
    const saved = await t.json('POST', `/api/v1/models/${id}/versions`, { version: '1.0.0', modelfile: text }, op)
    expect(saved.status).toBe(422)
    const err = (await saved.json()).error
    expect(err.code).toBe('invalid_modelfile')
    expect(err.details).toEqual({ field: 'modelfile', errors: expected })
    expect((await ok(await get(`/api/v1/models/${id}/versions`))).items).toEqual([])
    const noFrom = await t.json(
      'POST',
      `/api/v1/models/${id}/versions`,
      { version: '1.0.0', modelfile: 'SYSTEM hi' },
      op,
    )
    expect((await noFrom.json()).error.details.errors[0]).toMatchObject({
      line: null,
      message: expect.stringContaining('FROM'),
    })
  })

  it('answers 4xx naming the bad field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/v1/models', { id: 'Bad Id', baseModel: 'x' }, 'id'],
      ['POST', '/api/v1/models', { id: 'ok', baseModel: 'x', extra: 1 }, 'extra'],
      ['POST', '/api/v1/models', { id: 'ok' }, 'baseModel'],
      ['POST', '/api/v1/models/custom-qwen-finance/versions', { version: '1.0', modelfile: 'FROM x' }, 'version'],
      ['POST', '/api/v1/models/custom-qwen-finance/versions', { version: '1.0.0', modelfile: '' }, 'modelfile'],
      ['POST', '/api/v1/models/validate', { modelfile: 7 }, 'modelfile'],
      ['POST', '/api/v1/models/custom-qwen-finance/versions/1.0.0/status', { status: 'deployed' }, 'status'],
      ['PUT', '/api/v1/models/custom-qwen-finance/aliases/Prod!', { version: '1.0.0' }, 'alias'],
      ['POST', '/api/v1/ollama-hosts', { name: 'h', url: 'ftp://x' }, 'url'],
      ['POST', '/api/v1/ollama-hosts', { name: 'h', url: 'http://u:p@127.0.0.1' }, 'url'],
      [
        'POST',
        '/api/v1/ollama-hosts',
        { name: 'h', url: 'http://127.0.0.1', authHeader: { name: 'X Y', value: 'v' } },
        'authHeader.name',
      ],
      ['POST', '/api/v1/models/custom-qwen-finance/rollback', { version: '1.0.0' }, 'host'],
    ]
    for (const [method, path, body, field] of cases) {
      const res = await t.json(method, path, body, op)
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400)
      const fields = (await res.json()).error.details.map((d: Json) => d.field)
      expect(fields, path).toContain(field)
    }
    expect((await get('/api/v1/models/nope')).status).toBe(404)
    expect((await get('/api/v1/models/custom-qwen-finance/versions/9.9.9')).status).toBe(404)
    expect((await deploy('custom-qwen-finance', '9.9.9', 'gpu-1')).status).toBe(404)
  })

  it('lets viewers read and only operators change (and nobody without a key)', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    const writes: [string, string, unknown][] = [
      ['POST', '/api/v1/models', { id: 'v-made', baseModel: 'x' }],
      ['PATCH', `/api/v1/models/${id}`, { notes: 'x' }],
      ['POST', `/api/v1/models/${id}/versions`, { version: '2.0.0', modelfile: 'FROM x' }],
      ['POST', `/api/v1/models/${id}/versions/1.0.0/status`, { status: 'deprecated' }],
      ['POST', `/api/v1/models/${id}/versions/1.0.0/deploy`, { host: 'gpu-1' }],
      ['POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1' }],
      ['PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.0.0' }],
      ['POST', '/api/v1/ollama-hosts', { name: 'v-host', url: 'http://127.0.0.1:1' }],
      ['PATCH', `/api/v1/ollama-hosts/gpu-1`, { url: 'http://127.0.0.1:2' }],
      ['DELETE', `/api/v1/ollama-hosts/gpu-1`, undefined],
    ]
    for (const [method, path, body] of writes) {
      expect((await t.json(method, path, body, viewer)).status, `${method} ${path}`).toBe(403)
      expect((await t.json(method, path, body)).status, `${method} ${path} anonymous`).toBe(401)
    }
    for (const path of [
      `/api/v1/models/${id}`,
      `/api/v1/models/${id}/deployments`,
      '/api/v1/ollama-hosts',
      `/api/v1/models/${id}/aliases`,
    ])
      expect((await get(path)).status, path).toBe(200)
    expect((await t.app.request('/api/v1/models')).status).toBe(401)
    const valid = await ok(
      await t.json('POST', '/api/v1/models/validate', { modelfile: 'FROM x\nSYSTEM a\nSYSTEM b' }, viewer),
    )
    expect(valid).toMatchObject({
      valid: true,
      errors: [],
      warnings: [{ line: 3 }],
      parsed: { from: 'x', system: 'b' },
    })
  })
})

describe('Ollama hosts', () => {
  it('seals the auth header at rest (bound to its row), sends it, and never returns or audits it', async () => {
    const created = await host('guarded', guarded.url, { name: 'Authorization', value: TOKEN })
    expect(created.authHeader).toEqual({ name: 'Authorization', set: true })
    const [row] = await t.db.select().from(ollamaHosts).where(eq(ollamaHosts.id, created.id))
    expect(row!.authHeaderValue).not.toContain('proxy-token')
    expect(t.sealer.open(row!.authHeaderValue!, hostAuthAad(created.id))).toBe(TOKEN)
    expect(() => t.sealer.open(row!.authHeaderValue!, hostAuthAad('another'))).toThrow()
    for (const path of ['/api/v1/ollama-hosts', `/api/v1/ollama-hosts/${created.id}`, '/api/v1/ollama-hosts/guarded'])
      expect(await (await get(path)).text()).not.toContain('proxy-token')
    const tags = await ok(await get('/api/v1/ollama-hosts/guarded/tags'))
    expect(tags.models.map((m: Json) => m.name)).toEqual(['qwen2.5:7b'])
    expect(guarded.requests.at(-1)!.headers.authorization).toBe(TOKEN)

    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    const d = await ok(await deploy(id, '1.0.0', 'guarded'))
    expect(d.status).toBe('succeeded')
    expect(
      guarded.requests.filter((r) => r.path.startsWith('/api/')).every((r) => r.headers.authorization === TOKEN),
    ).toBe(true)
    const audits = await t.db.select().from(auditLog)
    expect(JSON.stringify(audits)).not.toContain('proxy-token')

    // A new URL without a new header drops the old one (it was for the old URL).
    const moved = await ok(
      await t.json('PATCH', '/api/v1/ollama-hosts/guarded', { url: guarded.url.replace('127.0.0.1', 'localhost') }, op),
    )
    expect(moved.authHeader).toBeNull()
    expect((await get('/api/v1/ollama-hosts/guarded/tags')).status).toBe(502)
  })

  it('never writes the auth header to the log (debug level), through deploys, failures and events', async () => {
    const lines: string[] = []
    const log = createLogger('debug', {}, (_lvl, line) => void lines.push(line))
    const { app } = createRoot({ config: t.config, db: t.db, log, sealer: t.sealer, telemetry: t.telemetry })
    const call = (method: string, path: string, body: unknown) =>
      app.request(path, { method, body: JSON.stringify(body), headers: { ...op, 'Content-Type': 'application/json' } })
    expect(
      (
        await call('POST', '/api/v1/ollama-hosts', {
          name: 'logged',
          url: guarded.url,
          authHeader: { name: 'Authorization', value: TOKEN },
        })
      ).status,
    ).toBe(201)
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    expect((await call('POST', `/api/v1/models/${id}/versions/1.0.0/deploy`, { host: 'logged' })).status).toBe(200)
    guarded.createFailure = 'midstream'
    expect((await call('POST', `/api/v1/models/${id}/versions/1.0.0/deploy`, { host: 'logged' })).status).toBe(502)
    guarded.createFailure = null
    await app.request('/api/v1/ollama-hosts/logged/tags', { headers: op })
    expect(lines.length).toBeGreaterThan(3)
    expect(lines.join('\n')).not.toContain('proxy-token')
  })

  it('refuses a host the outbound policy refuses, before any connection: the deploy is recorded failed', async () => {
    await host('private', 'http://10.11.12.13:11434')
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    const res = await deploy(id, '1.0.0', 'private')
    expect(res.status).toBe(502)
    const d = (await res.json()) as Json
    expect(d).toMatchObject({
      status: 'failed',
      host: 'private',
      error: expect.stringContaining('refused by the outbound policy'),
    })
    expect((await ok(await get(`/api/v1/models/${id}/deployments`))).live).toEqual([])
    expect((await ok(await get(`/api/v1/models/${id}/versions/1.0.0`))).status).toBe('ready')
  })

  it('refuses a second host of the same name', async () => {
    expect((await t.json('POST', '/api/v1/ollama-hosts', { name: 'gpu-1', url: ollama.url }, op)).status).toBe(409)
  })
})

describe('deploy, verify, rollback', () => {
  it('deploys: create (new JSON form), show to verify, copy to <model>:live; records who, when, and audits', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    const before = ollama.requests.length
    const d = await ok(await deploy(id, '1.0.0', 'gpu-1'))
    expect(d).toMatchObject({
      kind: 'deploy',
      status: 'succeeded',
      host: 'gpu-1',
      version: '1.0.0',
      method: 'create+copy',
      fromVersion: null,
    })
    expect(d.progress).toContain('success')
    const calls = ollama.requests.slice(before).map((r) => `${r.method} ${r.path}`)
    expect(calls).toEqual(['POST /api/create', 'POST /api/show', 'POST /api/copy'])
    const create = ollama.requests[before]!.body as Json
    expect(create).toEqual({
      model: `${id}:1.0.0`,
      from: 'qwen2.5:7b',
      stream: true,
      parameters: { temperature: 0.2, stop: ['<|im_end|>'] },
      system: 'v1.0.0',
    })
    expect(ollama.sameAs(`${id}:live`, `${id}:1.0.0`)).toBe(true)
    const deployed = await ok(await get(`/api/v1/models/${id}/deployments`))
    expect(deployed.live).toEqual([
      {
        host: 'gpu-1',
        hostId: hostByName['gpu-1'],
        version: '1.0.0',
        since: expect.any(String),
        by: expect.stringMatching(/^key:/),
        deployment: d.id,
      },
    ])
    expect((await ok(await get(`/api/v1/models/${id}/versions/1.0.0`))).status).toBe('deployed')
    const audits = await t.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.target, `${id}@gpu-1`))
    expect(audits.map((a) => a.action)).toEqual(['registry.deployed'])
  })

  it('streams progress as NDJSON to an API caller, ending with done', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    const res = await t.app.request(`/api/v1/models/${id}/versions/1.0.0/deploy`, {
      method: 'POST',
      body: JSON.stringify({ host: 'gpu-1' }),
      headers: { ...op, 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/x-ndjson')
    const events = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json)
    expect(events[0]).toMatchObject({ type: 'status', status: `creating ${id}:1.0.0 on gpu-1` })
    expect(events.map((e) => e.status)).toContain('creating system layer')
    expect(events.map((e) => e.status)).toContain('success')
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      deployment: { status: 'succeeded', version: '1.0.0', host: 'gpu-1' },
    })
    // The dashboard's server-sent events answer the same run's outcome.
    const sse = await get(`/api/v1/deployments/${res.headers.get('x-deployment-id')}/events`)
    expect(sse.headers.get('content-type')).toContain('text/event-stream')
    const text = await sse.text()
    expect(text).toContain('event: status')
    expect(text).toContain('event: done')
    expect((await get('/api/v1/deployments/nope/events')).status).toBe(404)
  })

  it('records a failure mid-stream (and an error status, and a cut connection) and changes nothing else', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '1.1.0'), 201)
    await ok(await deploy(id, '1.0.0', 'gpu-1'))
    const failures = [
      ['midstream', 'invalid model configuration'],
      ['status', 'create failed: no space left on device'],
      ['disconnect', ''],
    ] as const
    for (const [mode, message] of failures) {
      ollama.createFailure = mode
      const res = await deploy(id, '1.1.0', 'gpu-1')
      expect(res.status, mode).toBe(502)
      const d = (await res.json()) as Json
      expect(d.status).toBe('failed')
      if (message) expect(d.error).toBe(message)
      else expect(d.error).toBeTruthy()
    }
    ollama.createFailure = null
    const after = await ok(await get(`/api/v1/models/${id}/deployments`))
    expect(after.live.map((l: Json) => l.version)).toEqual(['1.0.0'])
    expect(after.history.map((h: Json) => h.status)).toEqual(['failed', 'failed', 'failed', 'succeeded'])
    expect(ollama.sameAs(`${id}:live`, `${id}:1.0.0`)).toBe(true)
    expect((await ok(await get(`/api/v1/models/${id}/versions/1.1.0`))).status).toBe('ready')
    const failedAudits = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.target, `${id}@gpu-1`), eq(auditLog.action, 'registry.deploy_failed')))
    expect(failedAudits).toHaveLength(3)
  })

  it('fails a deploy whose verification finds nothing: the live tag is not touched', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    ollama.showFails = true
    const res = await deploy(id, '1.0.0', 'gpu-1')
    ollama.showFails = false
    expect(res.status).toBe(502)
    expect(ollama.has(`${id}:live`)).toBe(false)
  })

  it('rolls back by copy when the host still has the version, moving the aliases that named the bad one', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '1.1.0'), 201)
    await ok(await deploy(id, '1.0.0', 'gpu-1'))
    await ok(await deploy(id, '1.1.0', 'gpu-1'))
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.1.0' }, op))
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/canary`, { version: '1.0.0' }, op))
    const before = ollama.requests.length
    const r = await ok(await t.json('POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1' }, op))
    expect(r).toMatchObject({
      kind: 'rollback',
      status: 'succeeded',
      version: '1.0.0',
      fromVersion: '1.1.0',
      method: 'copy',
    })
    expect(ollama.requests.slice(before).map((q) => q.path)).toEqual(['/api/show', '/api/copy'])
    expect(ollama.sameAs(`${id}:live`, `${id}:1.0.0`)).toBe(true)
    const aliases = await ok(await get(`/api/v1/models/${id}/aliases`))
    expect(aliases.items.map((a: Json) => [a.name, a.version, a.reason])).toEqual([
      ['canary', '1.0.0', ''],
      ['production', '1.0.0', 'rollback on gpu-1'],
    ])
    const actions = (await t.db.select().from(auditLog)).filter((a) => a.target?.startsWith(id)).map((a) => a.action)
    expect(actions).toContain('registry.rolled_back')
    expect(actions.filter((a) => a === 'registry.alias_moved')).toHaveLength(3)
    // Nothing earlier than 1.0.0 went live here, apart from 1.1.0: rolling back again goes to it.
    const again = await ok(await t.json('POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1' }, op))
    expect(again.version).toBe('1.1.0')
    const same = await t.json('POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1', version: '1.1.0' }, op)
    expect(same.status).toBe(409)
  })

  it('creates the version again when the host no longer has it; refuses with nothing live', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '2.0.0'), 201)
    expect((await t.json('POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1' }, op)).status).toBe(409)
    await ok(await deploy(id, '1.0.0', 'gpu-1'))
    await ok(await deploy(id, '2.0.0', 'gpu-1'))
    ollama.store.delete(`${id}:1.0.0`)
    const r = await ok(await t.json('POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1', version: '1.0.0' }, op))
    expect(r).toMatchObject({ status: 'succeeded', method: 'create+copy', version: '1.0.0' })
    expect(ollama.has(`${id}:1.0.0`)).toBe(true)
  })

  it('archives a version: refused while live, otherwise its tag deleted from the hosts that have it', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '1.1.0'), 201)
    await ok(await deploy(id, '1.0.0', 'gpu-1'))
    await ok(await deploy(id, '1.1.0', 'gpu-1'))
    const live = await t.json('POST', `/api/v1/models/${id}/versions/1.1.0/status`, { status: 'archived' }, op)
    expect(live.status).toBe(409)
    const archived = await ok(
      await t.json(
        'POST',
        `/api/v1/models/${id}/versions/1.0.0/status`,
        { status: 'archived', deleteFromHosts: true },
        op,
      ),
    )
    expect(archived.status).toBe('archived')
    expect(archived.deletedFrom).toContainEqual({ host: 'gpu-1', deleted: true })
    expect(ollama.has(`${id}:1.0.0`)).toBe(false)
    expect((await deploy(id, '1.0.0', 'gpu-1')).status).toBe(409)
  })
})

describe('aliases and model routes', () => {
  it('a model route naming alias:<model>/<alias> answers what the alias points at now', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '1.1.0'), 201)
    const a = await ok(
      await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.0.0', reason: 'first' }, op),
    )
    expect(a).toMatchObject({ name: 'production', version: '1.0.0', tag: `${id}:1.0.0`, ref: `alias:${id}/production` })
    await ok(
      await t.json(
        'POST',
        '/api/v1/model-routes',
        { name: `chat-${id}`, targets: [{ model: `alias:${id}/production`, host: ollama.url }] },
        op,
      ),
      201,
    )
    const read = async () => (await ok(await get(`/api/v1/model-routes/chat-${id}`))) as Json
    const first = await read()
    expect(first.active).toMatchObject({ model: `${id}:1.0.0`, alias: `alias:${id}/production` })
    expect(first.targets[0]).toMatchObject({
      model: `${id}:1.0.0`,
      alias: `alias:${id}/production`,
      aliasResolved: true,
    })
    const etag = (await get(`/api/v1/model-routes/chat-${id}`)).headers.get('etag')!
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.1.0' }, op))
    const moved = await read()
    expect(moved.active.model).toBe(`${id}:1.1.0`)
    const res = await t.app.request(`/api/v1/model-routes/chat-${id}`, {
      headers: { ...viewer, 'If-None-Match': etag },
    })
    expect(res.status).toBe(200) // the alias moved: the old ETag no longer matches
    // A route naming an alias that does not exist says so rather than inventing a model.
    await ok(
      await t.json(
        'POST',
        '/api/v1/model-routes',
        { name: `ghost-${id}`, targets: [{ model: `alias:${id}/nope`, host: ollama.url }] },
        op,
      ),
      201,
    )
    expect((await ok(await get(`/api/v1/model-routes/ghost-${id}`))).targets[0]).toMatchObject({
      model: `alias:${id}/nope`,
      aliasResolved: false,
    })
    expect((await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '9.0.0' }, op)).status).toBe(404)
  })

  it('a weighted canary split over two aliases: each caller keeps its alias, and moving an alias moves its callers', async () => {
    const id = await model()
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await ok(await version(id, v), 201)
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.0.0' }, op))
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/canary`, { version: '1.1.0' }, op))
    const targets = [
      { model: `alias:${id}/production`, host: ollama.url, weight: 50 },
      { model: `alias:${id}/canary`, host: ollama.url, weight: 50 },
    ]
    await ok(await t.json('POST', '/api/v1/model-routes', { name: `split-${id}`, targets }, op), 201)
    const callers = Array.from({ length: 20 }, (_, n) => `caller-${n}`)
    const answers = async () => {
      const out = new Map<string, Json>()
      for (const key of callers)
        out.set(key, (await ok(await get(`/api/v1/model-routes/split-${id}?key=${key}`))) as Json)
      return out
    }
    const before = await answers()
    const modelOf = (a: Json) => a.active.model as string
    expect(new Set([...before.values()].map(modelOf))).toEqual(new Set([`${id}:1.0.0`, `${id}:1.1.0`]))
    for (const a of before.values()) expect(a.weighted).toBe(true)
    // The canary alias moves on: its callers follow it, the production callers stay where they were.
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/canary`, { version: '1.2.0' }, op))
    const after = await answers()
    for (const key of callers) {
      const was = modelOf(before.get(key)!)
      expect(modelOf(after.get(key)!)).toBe(was === `${id}:1.1.0` ? `${id}:1.2.0` : was)
    }
  })
})

describe('the model_alias healing action', () => {
  it('moves an alias back to the previous version (routes follow), and back again on rollback', async () => {
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '1.1.0'), 201)
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.1.0' }, op))
    await ok(
      await t.json(
        'POST',
        '/api/v1/model-routes',
        { name: `heal-${id}`, targets: [{ model: `alias:${id}/production`, host: ollama.url }] },
        op,
      ),
      201,
    )
    const run = async (target: string, params: Json = {}) => {
      const res = await t.json('POST', '/api/v1/healing/actions', { type: 'model_alias', target, params }, op)
      expect(res.status, await res.clone().text()).toBe(201)
      const created = (await res.json()) as Json
      await t.services.healing.tick(Date.now())
      await t.services.healing.settle()
      return (await ok(await get(`/api/v1/healing/actions/${created.id}`))) as Json
    }
    const done = await run(`${id}/production`)
    expect(done).toMatchObject({ status: 'SUCCESS' })
    expect((await ok(await get(`/api/v1/models/${id}/aliases/production`))).version).toBe('1.0.0')
    expect((await ok(await get(`/api/v1/model-routes/heal-${id}`))).active.model).toBe(`${id}:1.0.0`)
    const moves = await t.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.target, `${id}/production`))
    expect(moves.at(-1)).toMatchObject({ action: 'registry.alias_moved', actor: `healing:${done.id}` })
    // 1.0.0 records no version before it: nothing to move to, and retrying cannot change that.
    expect(await run(`${id}/production`)).toMatchObject({ status: 'FAILED' })
    expect((await ok(await get(`/api/v1/models/${id}/aliases/production`))).version).toBe('1.0.0')
    const bad = await t.json('POST', '/api/v1/healing/actions', { type: 'model_alias', target: 'not an alias' }, op)
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.details.map((d: Json) => d.field)).toContain('target')
  })
})

describe('registry events to webhook subscriptions', () => {
  it('sends deploy, failed deploy, rollback and alias moves, signed, to subscriptions that asked for them', async () => {
    const sub = await ok(
      await t.json(
        'POST',
        '/api/v1/webhooks',
        {
          url: `${rx.url}/registry`,
          events: ['registry.deployed', 'registry.rolled_back', 'registry.alias_moved', 'registry.deploy_failed'],
        },
        op,
      ),
      201,
    )
    await ok(await t.json('POST', '/api/v1/webhooks', { url: `${rx.url}/alerts-only`, events: ['fired'] }, op), 201)
    const id = await model()
    await ok(await version(id, '1.0.0'), 201)
    await ok(await version(id, '1.1.0'), 201)
    await ok(await deploy(id, '1.0.0', 'gpu-1'))
    await ok(await deploy(id, '1.1.0', 'gpu-1'))
    await ok(await t.json('PUT', `/api/v1/models/${id}/aliases/production`, { version: '1.1.0' }, op))
    await ok(await t.json('POST', `/api/v1/models/${id}/rollback`, { host: 'gpu-1' }, op))
    ollama.createFailure = 'midstream'
    await deploy(id, '1.1.0', 'gpu-1')
    ollama.createFailure = null
    await t.services.notifier.run(Date.now())
    const got = rx.on('/registry').filter((r) => JSON.stringify(r.json).includes(id))
    const events = got.map((r) => (r.json as Json).event)
    expect(events).toEqual([
      'registry.deployed',
      'registry.deployed',
      'registry.alias_moved',
      'registry.rolled_back',
      'registry.alias_moved',
      'registry.deploy_failed',
    ])
    for (const r of got) expect(verify(r.headers['x-homeostat-signature'], r.body, sub.secret)).toBe(true)
    const rolled = got.find((r) => (r.json as Json).event === 'registry.rolled_back')!.json as Json
    expect(rolled.data.deployment).toMatchObject({ model: id, version: '1.0.0', fromVersion: '1.1.0', host: 'gpu-1' })
    expect(rolled.alerts).toEqual([])
    expect(rx.on('/alerts-only')).toEqual([])
  })
})

describe('the history table', () => {
  it('closes a deploy left running by a server that stopped, at the next deploy of that model there', async () => {
    const id = await model()
    const v = await ok(await version(id, '1.0.0'), 201)
    const old = Date.now() - 7 * 3_600_000
    await t.db.insert(deploymentHistory).values({
      id: `stale-${id}`,
      hostId: hostByName['gpu-1']!,
      modelId: id,
      versionId: v.id,
      kind: 'deploy',
      status: 'running',
      progress: [],
      startedAt: old,
      by: 'user:gone@example.com',
    })
    await ok(await deploy(id, '1.0.0', 'gpu-1'))
    const [stale] = await t.db
      .select()
      .from(deploymentHistory)
      .where(eq(deploymentHistory.id, `stale-${id}`))
    expect(stale).toMatchObject({ status: 'failed', error: 'interrupted: the server stopped during the deploy' })
  })

  it('keeps every attempt with its progress lines', async () => {
    const rows = await t.db.select().from(deploymentHistory)
    expect(rows.length).toBeGreaterThan(5)
    expect(rows.filter((r) => r.status === 'succeeded').every((r) => r.finishedAt! >= r.startedAt)).toBe(true)
    expect(rows.some((r) => r.status === 'running')).toBe(false)
  })
})
