/**
 * Issue 16, "Secrets stay secret": healing webhook headers are sealed at rest and masked in every
 * reply and page; check URLs show viewers no query string or userinfo; the request log names the
 * route pattern, never the path (push tokens are path segments).
 */
import { sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { createRoot } from '../../app/root.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { testApp } from '../helpers/app.ts'
import { startReceiver } from '../helpers/receiver.ts'

const t = await testApp()
const rx = await startReceiver()
afterAll(async () => {
  await t.services.healing.settle()
  await rx.close()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const viewerPage = await t.session('viewer')
const opPage = await t.session('operator')

const TOKEN = 'hs-rule-token-7f3a9c'
const tick = async () => {
  await t.services.healing.tick(Date.now())
  await t.services.healing.settle()
}
const text = async (path: string, headers: Record<string, string>) => {
  const res = await t.app.request(path, { headers })
  expect(res.status, path).toBe(200)
  return res.text()
}
/** Every stored copy of the healing tables, as text. */
const stored = async () =>
  JSON.stringify([
    await t.db.all(sql`select params, output from healing_actions`),
    await t.db.all(sql`select params from healing_rules`),
    await t.db.all(sql`select * from healing_events`),
  ])

describe('healing webhook headers', () => {
  it('are sealed at rest, masked in replies and pages, and sent in the clear', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/rules',
      {
        name: 'sealed-hook',
        trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'sealed' }] },
        actionType: 'webhook',
        target: '{{service}}',
        params: {
          url: `${rx.url}/sealed`,
          headers: { Authorization: `Bearer ${TOKEN}`, 'X-Service': '{{service}}' },
        },
        cooldownMs: 0,
      },
      op.headers,
    )
    expect(res.status, await res.clone().text()).toBe(201)
    const rule = (await res.json()) as { id: string; params: { headers: Record<string, string> } }
    expect(JSON.stringify(rule)).not.toContain(TOKEN)

    const fired = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'down', severity: 'error', status: 'firing', labels: { case: 'sealed', service: 'api' } },
      op.headers,
    )
    expect(fired.status).toBeLessThan(300)
    await tick()
    const [got] = rx.on('/sealed')
    expect(got?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(got?.headers['x-service']).toBe('api')

    expect(await stored()).not.toContain(TOKEN)
    const { items } = (await (
      await t.app.request(`/api/v1/healing/actions?rule=${rule.id}`, { headers: viewer.headers })
    ).json()) as { items: { id: string }[] }
    expect(items.length).toBe(1)
    const action = await text(`/api/v1/healing/actions/${items[0]!.id}`, viewer.headers)
    expect(action).toContain('/sealed')
    expect(action).not.toContain(TOKEN)
    expect(await text(`/api/v1/healing/rules/${rule.id}`, viewer.headers)).not.toContain(TOKEN)
    expect(await text(`/healing/rules/${rule.id}`, opPage.headers)).not.toContain(TOKEN)
    expect(await text(`/healing/actions/${items[0]!.id}`, viewerPage.headers)).not.toContain(TOKEN)

    // Sent back masked, a header keeps its value while the URL stays, and cannot follow a new URL.
    const same = { params: { url: `${rx.url}/sealed`, headers: rule.params.headers } }
    expect((await t.json('PATCH', `/api/v1/healing/rules/${rule.id}`, same, op.headers)).status).toBe(200)
    const moved = { params: { url: `${rx.url}/elsewhere`, headers: rule.params.headers } }
    const refused = await t.json('PATCH', `/api/v1/healing/rules/${rule.id}`, moved, op.headers)
    expect(refused.status).toBe(400)
    expect(await refused.text()).toContain('params.headers.Authorization')
  })

  it('a manual webhook action stores and shows its headers sealed and masked', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'webhook', target: 'api', dryRun: true, params: { url: `${rx.url}/dry`, headers: { 'X-Key': TOKEN } } },
      op.headers,
    )
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    await tick()
    expect(await text(`/api/v1/healing/actions/${id}`, viewer.headers)).not.toContain(TOKEN)
    expect(await stored()).not.toContain(TOKEN)
  })
})

describe('component check URLs', () => {
  it('show viewers no query string and no userinfo; operators the full URL', async () => {
    const url = 'http://chk-user:chk-pass-secret@127.0.0.1:9/health?apikey=chk-query-secret'
    const res = await t.json(
      'POST',
      '/api/v1/components',
      { name: 'checked', kind: 'service', http: { url } },
      op.headers,
    )
    expect(res.status, await res.clone().text()).toBe(201)
    const { id } = (await res.json()) as { id: string }
    for (const path of [`/api/v1/components/${id}`, '/api/v1/components']) {
      const body = await text(path, viewer.headers)
      expect(body).toContain('127.0.0.1:9/health')
      expect(body).not.toContain('chk-query-secret')
      expect(body).not.toContain('chk-pass-secret')
    }
    for (const path of [`/components/${id}`, '/components']) {
      const body = await text(path, viewerPage.headers)
      expect(body).toContain('127.0.0.1:9/health')
      expect(body).not.toContain('chk-query-secret')
      expect(body).not.toContain('chk-pass-secret')
    }
    expect(await text(`/api/v1/components/${id}`, op.headers)).toContain('chk-query-secret')
    expect(await text(`/components/${id}`, opPage.headers)).toContain('chk-query-secret')
  })
})

describe('the request log', () => {
  it('records the route pattern, not the path with the push token', async () => {
    const lines: string[] = []
    const log = createLogger('info', {}, (_lvl, line) => void lines.push(line))
    const { app } = createRoot({ config: t.config, db: t.db, log, sealer: t.sealer, telemetry: t.telemetry })
    await app.request('/api/v1/push/push-token-secret-42?status=up')
    const line = lines.find((l) => l.includes('"msg":"request"'))
    expect(line).toBeDefined()
    expect(line).toContain('/api/v1/push/:token')
    expect(line).not.toContain('push-token-secret-42')
  })
})
