/**
 * The Models dashboard as HTML: the registry table, a model's page (timeline, live table, history,
 * aliases, deploy panel with the Modelfile preview and its validation), the page actions (deploy,
 * rollback, alias move: same service, same checks, same audit rows as the API), bad form input named
 * by field, and write controls and actions refused to viewers. Browser behaviour: tests/e2e/registry-deploy.test.ts.
 */
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'
import { startFakeOllama } from '../helpers/fake-ollama.ts'

const t = await testApp()
const ollama = await startFakeOllama({ models: ['qwen2.5:7b'] })
afterAll(async () => {
  await ollama.close()
  t.close()
})
const { op } = await roleHeaders(t)
const operator = await t.session('operator')
const viewer = await t.session('viewer')

const post = (path: string, headers: Record<string, string>, fields: Record<string, string> = {}) =>
  t.app.request(path, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
  })
const html = async (path: string, headers: Record<string, string>) => {
  const res = await t.app.request(path, { headers })
  expect(res.status, path).toBe(200)
  return res.text()
}

await t.json('POST', '/api/v1/ollama-hosts', { name: 'gpu-1', url: ollama.url }, op)
await t.json('POST', '/api/v1/models', { id: 'finance', name: 'Finance Qwen', baseModel: 'qwen2.5:7b' }, op)
for (const v of ['1.0.0', '1.1.0'])
  await t.json(
    'POST',
    '/api/v1/models/finance/versions',
    { version: v, modelfile: `FROM qwen2.5:7b\nSYSTEM """v${v}"""\n` },
    op,
  )

describe('the registry pages', () => {
  it('lists models, and shows a model with its timeline and the deploy panel to operators', async () => {
    const list = await html('/models', viewer.headers)
    expect(list).toContain('Finance Qwen')
    expect(list).toContain('href="/models/finance"')
    const page = await html('/models/finance', operator.headers)
    expect(page).toContain('data-version="1.1.0"')
    expect(page).toContain('data-version="1.0.0"')
    expect(page).toContain('class="card deploy-panel"')
    expect(page).toContain('data-valid="true"')
    expect(page).toContain('/static/registry-deploy.js')
    expect(await html('/models/finance/preview?version=1.0.0', operator.headers)).toContain('v1.0.0')
  })

  it('shows viewers no write controls, and refuses their page actions', async () => {
    const page = await html('/models/finance', viewer.headers)
    expect(page).not.toContain('deploy-panel')
    expect(page).not.toContain('Move alias')
    for (const [path, fields] of [
      ['/models/finance/deploy', { host: 'gpu-1', version: '1.0.0' }],
      ['/models/finance/rollback', { host: 'gpu-1' }],
      ['/models/finance/aliases', { alias: 'production', version: '1.0.0' }],
    ] as const)
      expect((await post(path, viewer.headers, fields)).status, path).toBe(403)
  })

  it('deploys from the panel: the answer follows the deployment’s events', async () => {
    const res = await post('/models/finance/deploy', operator.headers, { host: 'gpu-1', version: '1.0.0' })
    expect(res.status).toBe(200)
    const fragment = await res.text()
    const id = /data-deployment="([^"]+)"/.exec(fragment)![1]!
    expect(fragment).toContain(`data-deploy-events="/api/v1/deployments/${id}/events"`)
    const events = await (await t.app.request(`/api/v1/deployments/${id}/events`, { headers: operator.headers })).text()
    expect(events).toContain('event: done')
    expect(await html('/models/finance', viewer.headers)).toMatch(/data-host="gpu-1">[\s\S]*1\.0\.0/)
  })

  it('moves an alias and rolls back from the page, with the same audit rows as the API', async () => {
    await t.json('POST', '/api/v1/models/finance/versions/1.1.0/deploy', { host: 'gpu-1' }, op)
    const moved = await post('/models/finance/aliases', operator.headers, { alias: 'production', version: '1.1.0' })
    expect(await moved.text()).toContain('production → 1.1.0')
    const rolled = await post('/models/finance/rollback', operator.headers, { host: 'gpu-1' })
    expect(await rolled.text()).toContain('Rolled back on gpu-1: 1.0.0 is live (copy)')
    const page = await html('/models/finance', viewer.headers)
    expect(page).toContain('rollback on gpu-1')
    const actions = (
      await t.db
        .select()
        .from(auditLog)
        .where(eq(auditLog.actor, `user:${operator.user.email}`))
    ).map((a) => a.action)
    expect(actions).toEqual(
      expect.arrayContaining(['registry.deployed', 'registry.alias_moved', 'registry.rolled_back']),
    )
  })

  it('names bad form fields, and answers 404 for an unknown model', async () => {
    const bad = await post('/models/finance/deploy', operator.headers, { host: 'gpu-1', version: 'one' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('version')
    const badAlias = await post('/models/finance/aliases', operator.headers, { alias: 'Not OK', version: '1.0.0' })
    expect(badAlias.status).toBe(400)
    expect(await badAlias.text()).toContain('alias')
    expect((await t.app.request('/models/nope', { headers: viewer.headers })).status).toBe(404)
    expect((await t.app.request('/models/finance/preview?version=x', { headers: operator.headers })).status).toBe(400)
  })
})
