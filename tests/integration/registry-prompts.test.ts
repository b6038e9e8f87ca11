/**
 * The prompt registry through the real app and a real libSQL file: versions (idempotent on
 * content), labels and their history, the agents' read (label or version, variables, ETag and
 * 304, correct after a label moves, also from a second instance), diff, scores per version,
 * RBAC per role, bad input naming fields, audit rows, and the signed registry.prompt.* webhooks.
 */
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { createApp } from '../../app/app.ts'
import { createServices } from '../../app/services.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { openDb } from '../../db/client.ts'
import { testApp } from '../helpers/app.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

const t = await testApp()
const rx = await startReceiver()
afterAll(async () => {
  await rx.close()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const routesKey = await t.key('viewer', ['routes'])
const ingest = await t.key('viewer', ['ingest'])

type Err = { error: { code: string; message: string; details?: { field: string; message: string }[] } }
const fields = async (res: Response) => ((await res.json()) as Err).error.details?.map((d) => d.field).sort()
const get = (path: string, headers: Record<string, string> = viewer.headers) => t.app.request(path, { headers })
const create = async (name: string) => {
  const res = await t.json('POST', '/api/v1/prompts', { name, description: `the ${name} prompt` }, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
}
const addVersion = async (name: string, body: Record<string, unknown>) => {
  const res = await t.json('POST', `/api/v1/prompts/${name}/versions`, body, op.headers)
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return { status: res.status, body: (await res.json()) as { version: number; labels: string[]; hash: string } }
}
const move = (name: string, label: string, version: number, headers = op.headers) =>
  t.json('PUT', `/api/v1/prompts/${name}/labels/${label}`, { version }, headers)

const V1 = 'You help {{customer}} with billing.\nBe brief.'
const V2 = 'You help {{customer}} with billing.\nBe brief and kind.\nSign as {{agent}}.'

describe('versions and labels', () => {
  it('adds versions, answers the same version for the same content, and points labels at them', async () => {
    await create('support')
    const a = await addVersion('support', {
      template: V1,
      variables: ['customer'],
      parameters: { temperature: 0.2, model: 'qwen' },
      note: 'first',
      label: 'production',
    })
    expect(a.status).toBe(201)
    expect(a.body).toMatchObject({ version: 1, labels: ['production'] })
    // A retry (parameters in another order) is the same version, not a duplicate.
    const again = await addVersion('support', {
      template: V1,
      variables: ['customer'],
      parameters: { model: 'qwen', temperature: 0.2 },
    })
    expect(again.status).toBe(200)
    expect(again.body.version).toBe(1)
    const b = await addVersion('support', {
      template: V2,
      variables: ['agent', 'customer'],
      parameters: { temperature: 0.4, model: 'qwen' },
      note: 'kinder',
      label: 'staging',
    })
    expect(b.status).toBe(201)
    expect(b.body.version).toBe(2)
    const list = (await (await get('/api/v1/prompts/support/versions')).json()) as {
      items: { version: number; labels: string[] }[]
    }
    expect(list.items.map((v) => [v.version, v.labels])).toEqual([
      [2, ['staging']],
      [1, ['production']],
    ])
    const one = (await (await get('/api/v1/prompts/support/versions/2')).json()) as { template: string; note: string }
    expect(one).toMatchObject({ template: V2, note: 'kinder' })
    expect((await get('/api/v1/prompts/support/versions/9')).status).toBe(404)
  })

  it('moves a label with its history and audit rows; moving it where it is changes nothing', async () => {
    const res = await move('support', 'production', 2)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ label: 'production', from: 1, to: 2, moved: true })
    expect(await (await move('support', 'production', 2)).json()).toMatchObject({ moved: false })
    expect((await move('support', 'production', 7)).status).toBe(404)
    const labels = (await (await get('/api/v1/prompts/support/labels')).json()) as {
      labels: Record<string, number>
      history: { label: string; from: number | null; to: number; actor: string }[]
    }
    expect(labels.labels).toEqual({ production: 2, staging: 2 })
    expect(labels.history.map((h) => [h.label, h.from, h.to])).toEqual([
      ['production', 1, 2],
      ['staging', null, 2],
      ['production', null, 1],
    ])
    expect(labels.history[0]!.actor).toMatch(/^key:/)
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.target, 'support:production'))
    expect(rows.map((r) => r.action)).toContain('prompt.label_moved')
    const added = await t.db.select().from(auditLog).where(eq(auditLog.action, 'prompt.version_added'))
    expect(added.map((r) => r.summary)).toEqual(['version 1: first', 'version 2: kinder'])
  })

  it('rolls a label back to the previous version, or a given one; 409 when there is none before', async () => {
    const back = await t.json('POST', '/api/v1/prompts/support/rollback', { reason: 'worse' }, op.headers)
    expect(back.status).toBe(200)
    expect(await back.json()).toEqual({ label: 'production', from: 2, to: 1 })
    const none = await t.json('POST', '/api/v1/prompts/support/rollback', {}, op.headers)
    expect(none.status).toBe(409)
    const to = await t.json('POST', '/api/v1/prompts/support/rollback', { to: 2 }, op.headers)
    expect(await to.json()).toEqual({ label: 'production', from: 1, to: 2 })
    const missing = await t.json('POST', '/api/v1/prompts/support/rollback', { label: 'canary' }, op.headers)
    expect(missing.status).toBe(409)
  })

  it('diffs two versions line by line, with variables and parameters', async () => {
    const res = await get('/api/v1/prompts/support/diff?from=1&to=2')
    expect(res.status).toBe(200)
    const d = (await res.json()) as Record<string, any>
    expect(d.lines).toEqual([
      { op: ' ', text: 'You help {{customer}} with billing.' },
      { op: '-', text: 'Be brief.' },
      { op: '+', text: 'Be brief and kind.' },
      { op: '+', text: 'Sign as {{agent}}.' },
    ])
    expect(d.variables).toEqual({ added: ['agent'], removed: [] })
    expect(d.parameters).toEqual([{ key: 'temperature', from: 0.2, to: 0.4 }])
    expect(d.same).toBe(false)
    const bad = await get('/api/v1/prompts/support/diff?from=1&to=9')
    expect(bad.status).toBe(404)
    expect(await fields(bad)).toEqual(['to'])
    expect(await fields(await get('/api/v1/prompts/support/diff?from=x'))).toEqual(['from', 'to'])
  })
})

describe("the agents' read", () => {
  it('answers the production label by default, compiled with var.*, with an ETag and 304', async () => {
    const res = await get('/api/v1/prompts/support?var.customer=ACME&var.agent=Ann', routesKey.headers)
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      name: 'support',
      label: 'production',
      version: 2,
      compiled: 'You help ACME with billing.\nBe brief and kind.\nSign as Ann.',
      parameters: { temperature: 0.4, model: 'qwen' },
      variables: ['agent', 'customer'],
    })
    const etag = res.headers.get('etag')!
    expect(etag).toMatch(/^"2\.[0-9a-f]{16}\.[0-9a-f]{12}"$/)
    const again = await get('/api/v1/prompts/support?var.customer=ACME&var.agent=Ann', {
      ...routesKey.headers,
      'If-None-Match': etag,
    })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    // Other values: another ETag.
    const other = await get('/api/v1/prompts/support?var.customer=Initech&var.agent=Ann', {
      ...routesKey.headers,
      'If-None-Match': etag,
    })
    expect(other.status).toBe(200)
    expect(other.headers.get('etag')).not.toBe(etag)
  })

  it('without variables answers the template uncompiled; by version or another label', async () => {
    const plain = (await (await get('/api/v1/prompts/support')).json()) as Record<string, unknown>
    expect(plain).toMatchObject({ version: 2, compiled: null, template: V2 })
    const v1 = (await (await get('/api/v1/prompts/support?version=1&var.customer=X')).json()) as Record<string, unknown>
    expect(v1).toMatchObject({ version: 1, label: null, compiled: 'You help X with billing.\nBe brief.' })
    const staging = (await (await get('/api/v1/prompts/support?label=staging')).json()) as Record<string, unknown>
    expect(staging).toMatchObject({ version: 2, label: 'staging' })
    expect((await get('/api/v1/prompts/support?label=canary')).status).toBe(404)
    expect((await get('/api/v1/prompts/nope')).status).toBe(404)
  })

  it('refuses missing, unknown and misspelt variables by name', async () => {
    const missing = await get('/api/v1/prompts/support?var.customer=ACME')
    expect(missing.status).toBe(400)
    expect(await fields(missing)).toEqual(['var.agent'])
    const unknown = await get('/api/v1/prompts/support?var.customer=A&var.agent=B&var.boss=C')
    expect(await fields(unknown)).toEqual(['var.boss'])
    const typo = await get('/api/v1/prompts/support?customer=A')
    expect(typo.status).toBe(400)
    expect(await fields(typo)).toEqual(['customer'])
    const both = await get('/api/v1/prompts/support?label=production&version=1')
    expect(both.status).toBe(400)
    const twice = await get('/api/v1/prompts/support?var.customer=A&var.customer=B&var.agent=C')
    expect(await fields(twice)).toEqual(['var.customer'])
    expect(await fields(await get('/api/v1/prompts/support?version=0'))).toEqual(['version'])
  })

  it('a label moved changes the answer and the ETag at once, and within the cache time on another instance', async () => {
    const before = await get('/api/v1/prompts/support')
    const etag = before.headers.get('etag')!
    // A second server on the same database, with its own cache.
    const other = await openDb({ url: t.config.DATABASE_URL })
    const services = createServices({ ...t.services, db: other.db, scheduler: undefined })
    const app2 = createApp(services)
    let clock = Date.now()
    services.prompts.invalidate()
    const read2 = async () =>
      (await services.prompts.resolve('support', { label: 'production' }, clock))?.version.version
    try {
      expect(await read2()).toBe(2)
      await move('support', 'production', 1)
      const after = await get('/api/v1/prompts/support', { ...viewer.headers, 'If-None-Match': etag })
      expect(after.status).toBe(200)
      expect(((await after.json()) as { version: number }).version).toBe(1)
      // The other instance's cached answer is served until PROMPT_CACHE_MS has passed, then read again.
      clock += 1001
      expect(await read2()).toBe(1)
      const res = await app2.request('/api/v1/prompts/support', { headers: viewer.headers })
      expect(((await res.json()) as { version: number }).version).toBe(1)
    } finally {
      other.client.close()
    }
    await move('support', 'production', 2)
  })
})

describe('scores', () => {
  it('shows prompt_score per version over the last 24 h (mean, count)', async () => {
    const now = Date.now()
    const points = [
      ...[0.9, 0.8, 1].map((value, i) => ({
        name: 'prompt_score',
        labels: { prompt: 'support', version: '1' },
        value,
        ts: now - 60_000 + i,
      })),
      ...[0.5, 0.3].map((value, i) => ({
        name: 'prompt_score',
        labels: { prompt: 'support', version: '2' },
        value,
        ts: now - 30_000 + i,
      })),
      // Older than a day: not counted.
      { name: 'prompt_score', labels: { prompt: 'support', version: '2' }, value: 0, ts: now - 2 * 86_400_000 },
    ]
    expect((await t.json('POST', '/api/v1/metrics', { points }, ingest.headers)).status).toBe(200)
    const res = (await (await get('/api/v1/prompts/support/scores')).json()) as {
      items: { version: number; avg: number; count: number }[]
    }
    expect(res.items.map((s) => [s.version, s.count])).toEqual([
      [2, 2],
      [1, 3],
    ])
    expect(res.items[0]!.avg).toBeCloseTo(0.4)
    expect(res.items[1]!.avg).toBeCloseTo(0.9)
    const v1 = (await (await get('/api/v1/prompts/support/versions/1')).json()) as {
      score: { avg: number; count: number }
    }
    expect(v1.score.count).toBe(3)
  })
})

describe('bad input and access', () => {
  it('names the bad fields of a version: undeclared, unused, malformed', async () => {
    const post = (body: unknown) => t.json('POST', '/api/v1/prompts/support/versions', body, op.headers)
    const undeclared = await post({ template: 'Hi {{name}} from {{city}}', variables: ['name'] })
    expect(undeclared.status).toBe(400)
    expect(((await undeclared.json()) as Err).error.details).toEqual([
      { field: 'template', message: 'uses undeclared variables: city' },
    ])
    expect(await fields(await post({ template: 'Hi', variables: ['name'] }))).toEqual(['variables'])
    expect(await fields(await post({ template: '', variables: ['1bad'] }))).toEqual(['template', 'variables.0'])
    expect(await fields(await post({ template: 'x', parameters: [] }))).toEqual(['parameters'])
    expect(await fields(await post({ template: 'x', parameters: { big: 'x'.repeat(20_001) } }))).toEqual(['parameters'])
    expect(await fields(await post({ template: 'x', extra: 1 }))).toEqual(['extra'])
    expect(await fields(await post({ template: 'x', variables: ['a', 'a'] }))).toEqual(['variables'])
    const name = await t.json('POST', '/api/v1/prompts', { name: '../etc' }, op.headers)
    expect(await fields(name)).toEqual(['name'])
    const dup = await t.json('POST', '/api/v1/prompts', { name: 'support' }, op.headers)
    expect(dup.status).toBe(409)
    expect(await fields(await move('support', 'bad label!', 1))).toEqual(['label'])
    expect(
      await fields(await t.json('PUT', '/api/v1/prompts/support/labels/x', { version: 'one' }, op.headers)),
    ).toEqual(['version'])
    expect((await t.json('POST', '/api/v1/prompts/nope/versions', { template: 'x' }, op.headers)).status).toBe(404)
  })

  it('viewers read, operators write; a routes key reads only the agents’ answer; an ingest key nothing', async () => {
    expect((await get('/api/v1/prompts')).status).toBe(200)
    expect((await get('/api/v1/prompts/support/versions')).status).toBe(200)
    expect((await t.json('POST', '/api/v1/prompts', { name: 'v' }, viewer.headers)).status).toBe(403)
    expect((await t.json('POST', '/api/v1/prompts/support/versions', { template: 'x' }, viewer.headers)).status).toBe(
      403,
    )
    expect((await move('support', 'production', 1, viewer.headers)).status).toBe(403)
    expect((await t.json('POST', '/api/v1/prompts/support/rollback', {}, viewer.headers)).status).toBe(403)
    expect((await t.app.request('/api/v1/prompts/support', { method: 'DELETE', headers: viewer.headers })).status).toBe(
      403,
    )
    expect((await get('/api/v1/prompts/support', routesKey.headers)).status).toBe(200)
    expect((await get('/api/v1/prompts/support/versions', routesKey.headers)).status).toBe(403)
    expect((await get('/api/v1/prompts/support', ingest.headers)).status).toBe(403)
    expect((await get('/api/v1/prompts/support', {})).status).toBe(401)
  })
})

describe('registry webhooks', () => {
  it('sends registry.prompt.* events, signed, to the subscriptions that asked for them', async () => {
    const sub = await t.json(
      'POST',
      '/api/v1/webhooks',
      { url: `${rx.url}/hook`, events: ['registry.prompt.version_added', 'registry.prompt.label_moved'] },
      (await t.key('admin')).headers,
    )
    expect(sub.status, await sub.clone().text()).toBe(201)
    const { secret } = (await sub.json()) as { secret: string }
    const alertsOnly = await t.json(
      'POST',
      '/api/v1/webhooks',
      { url: `${rx.url}/alerts`, events: ['fired'] },
      (await t.key('admin')).headers,
    )
    expect(alertsOnly.status).toBe(201)
    t.services.notifier.invalidateRouting()
    rx.clear()
    await create('faq')
    await addVersion('faq', { template: 'Answer: {{q}}', variables: ['q'], label: 'production' })
    await t.services.notifier.run(Date.now())
    const got = rx.on('/hook')
    expect(got.map((r) => (r.json as { event: string }).event).sort()).toEqual([
      'registry.prompt.label_moved',
      'registry.prompt.version_added',
    ])
    for (const r of got) expect(verify(r.headers['x-homeostat-signature'], r.body, secret)).toBe(true)
    const moved = got.find((r) => (r.json as { event: string }).event === 'registry.prompt.label_moved')!
    expect((moved.json as { data: unknown; alerts: unknown[] }).data).toMatchObject({
      prompt: 'faq',
      label: 'production',
      from: null,
      to: 1,
    })
    expect(moved.headers['x-homeostat-event']).toBe('registry.prompt.label_moved')
    expect(rx.on('/alerts')).toEqual([])
    const bad = await t.json(
      'POST',
      '/api/v1/webhooks',
      { url: `${rx.url}/x`, events: ['registry.prompt.nope'] },
      (await t.key('admin')).headers,
    )
    expect(await fields(bad)).toEqual(['events.0'])
  })

  it('deletes a prompt with its versions and labels (operator, audited)', async () => {
    const res = await t.app.request('/api/v1/prompts/faq', { method: 'DELETE', headers: op.headers })
    expect(res.status).toBe(204)
    expect((await get('/api/v1/prompts/faq')).status).toBe(404)
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.action, 'prompt.deleted'))
    expect(rows.map((r) => r.target)).toEqual(['faq'])
  })
})
