import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { apiKeys } from '../../db/schema/auth.ts'
import { sha256 } from '../../app/lib/crypto.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Detail = { field: string; message: string }
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const keyRow = async (t: TestApp, prefix: string) =>
  (await t.db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix)))[0]!
const errorOf = async (res: Response) =>
  (await res.json()).error as { code: string; message: string; details: Detail[] | null }

let t: TestApp
let admin: Awaited<ReturnType<TestApp['session']>>
beforeAll(async () => {
  t = await testApp()
  admin = await t.session('admin')
})
afterAll(() => t.close())

const create = (body: unknown, headers: Record<string, string> = admin.headers) =>
  t.json('POST', '/api/v1/keys', body, headers)
const whoami = (headers: Record<string, string>) => t.app.request('/api/v1/whoami', { headers })

describe('API keys over the JSON API', () => {
  it('creates a key shown once, stored only as a hash', async () => {
    const res = await create({ name: 'prometheus', role: 'operator' })
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(body.key).toMatch(/^hs_[a-z0-9]{8}_[\w-]{40,}$/)
    expect(body.key.startsWith(`${body.prefix}_`)).toBe(true)
    expect(body).toMatchObject({
      name: 'prometheus',
      role: 'operator',
      scopes: [],
      createdBy: admin.user.email,
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    })
    expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt)
    const row = await keyRow(t, body.prefix)
    expect(row.keyHash).toBe(sha256(body.key))
    expect(row.keyHash).not.toContain(body.key)
    expect(JSON.stringify(row)).not.toContain(body.key)
    const [entry] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'key.created'), eq(auditLog.target, body.prefix)))
    expect(entry).toMatchObject({ actor: `user:${admin.user.email}`, summary: 'prometheus, role operator' })
    expect(entry!.summary).not.toContain(body.key)
  })

  it('lists keys with prefix, name, role, scopes and times, never the key or its hash', async () => {
    const { key, prefix } = await (await create({ name: 'listed', role: 'viewer', scopes: ['ingest'] })).json()
    const res = await t.app.request('/api/v1/keys', { headers: admin.headers })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).not.toContain(key)
    expect(text).not.toContain(sha256(key))
    expect(text).not.toMatch(/keyHash|key_hash/)
    const item = JSON.parse(text).items.find((k: { prefix: string }) => k.prefix === prefix)
    expect(item).toMatchObject({
      prefix,
      name: 'listed',
      role: 'viewer',
      scopes: ['ingest'],
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    })
    expect(Object.keys(item)).not.toContain('key')
    expect(Object.keys(item).sort()).toEqual([
      'createdAt',
      'createdBy',
      'expiresAt',
      'id',
      'lastUsedAt',
      'name',
      'prefix',
      'revokedAt',
      'role',
      'scopes',
      'source',
    ])
  })

  it('binds a key to one alert source (listed with it); a binding needs the ingest scope', async () => {
    const res = await create({ name: 'am', role: 'viewer', scopes: ['ingest'], source: 'alertmanager' })
    expect(res.status).toBe(201)
    const { prefix } = await res.json()
    const list = await (await t.app.request('/api/v1/keys', { headers: admin.headers })).json()
    expect(list.items.find((k: { prefix: string }) => k.prefix === prefix)).toMatchObject({ source: 'alertmanager' })
    const unscoped = await create({ name: 'am2', role: 'operator', source: 'alertmanager' })
    expect(unscoped.status).toBe(400)
    expect((await unscoped.json()).error.details).toMatchObject([{ field: 'source' }])
    expect((await create({ name: 'bad', role: 'viewer', scopes: ['ingest'], source: 'Bad Source!' })).status).toBe(400)
    expect((await create({ name: 'br', role: 'viewer', scopes: ['breakers', 'routes'] })).status).toBe(201)
  })

  it('pages the list by cursor', async () => {
    for (let i = 0; i < 3; i++) await create({ name: `page-${i}`, role: 'viewer' })
    const first = await (await t.app.request('/api/v1/keys?limit=2', { headers: admin.headers })).json()
    expect(first.items).toHaveLength(2)
    expect(first.next).toEqual(expect.any(String))
    const second = await (
      await t.app.request(`/api/v1/keys?limit=2&cursor=${first.next}`, { headers: admin.headers })
    ).json()
    const ids = (p: { items: { id: string }[] }) => p.items.map((k) => k.id)
    expect(second.items.length).toBeGreaterThan(0)
    expect(ids(second).filter((id: string) => ids(first).includes(id))).toEqual([])
    expect((await t.app.request('/api/v1/keys?limit=501', { headers: admin.headers })).status).toBe(400)
  })

  it('accepts the key as Bearer (any case) or X-API-Key', async () => {
    const { key, prefix, id } = await (await create({ name: 'both', role: 'operator' })).json()
    const variants: Record<string, string>[] = [
      { Authorization: `Bearer ${key}` },
      { Authorization: `bearer ${key}` },
      { 'X-API-Key': key },
    ]
    for (const headers of variants) {
      const res = await whoami(headers)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ kind: 'api_key', id, name: prefix, role: 'operator', scopes: [] })
    }
  })

  it('records when a key was last used', async () => {
    const { key, prefix } = await (await create({ name: 'used', role: 'viewer' })).json()
    expect((await keyRow(t, prefix)).lastUsedAt).toBeNull()
    const before = Date.now()
    expect((await whoami({ Authorization: `Bearer ${key}` })).status).toBe(200)
    // written off the request path; wait for that write, not for a clock
    await vi.waitFor(async () => expect((await keyRow(t, prefix)).lastUsedAt).toBeGreaterThanOrEqual(before))
    const { items } = await (await t.app.request('/api/v1/keys?limit=500', { headers: admin.headers })).json()
    expect(Date.parse(items.find((k: { prefix: string }) => k.prefix === prefix).lastUsedAt)).toBeGreaterThanOrEqual(
      before,
    )
  })

  it('a revoked key is refused at once with key_revoked, by id or by prefix', async () => {
    for (const by of ['id', 'prefix'] as const) {
      const created = await (await create({ name: `revoke-by-${by}`, role: 'operator' })).json()
      const headers = { Authorization: `Bearer ${created.key}` }
      expect((await whoami(headers)).status).toBe(200) // now cached
      const res = await t.app.request(`/api/v1/keys/${created[by]}`, { method: 'DELETE', headers: admin.headers })
      expect(res.status).toBe(200)
      expect((await res.json()).revokedAt).toEqual(expect.any(String))
      const after = await whoami(headers)
      expect(after.status).toBe(401)
      expect((await errorOf(after)).code).toBe('key_revoked')
      expect((await keyRow(t, created.prefix)).revokedAt).toBeGreaterThan(0)
      const [entry] = await t.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, 'key.revoked'), eq(auditLog.target, created.prefix)))
      expect(entry!.actor).toBe(`user:${admin.user.email}`)
    }
    expect((await t.app.request('/api/v1/keys/hs_nothere', { method: 'DELETE', headers: admin.headers })).status).toBe(
      404,
    )
  })

  it('an expired key is refused with key_expired; an unknown one with key_invalid', async () => {
    const { key, row } = await (async () => {
      const k = await t.key('operator')
      return { key: k.key, row: await keyRow(t, k.key.slice(0, 11)) }
    })()
    await t.db
      .update(apiKeys)
      .set({ expiresAt: Date.now() - 1 })
      .where(eq(apiKeys.id, row.id))
    const expired = await whoami({ Authorization: `Bearer ${key}` })
    expect(expired.status).toBe(401)
    expect((await errorOf(expired)).code).toBe('key_expired')
    for (const bad of [`${key}x`, 'hs_00000000_nope', 'not-a-homeostat-key']) {
      const res = await whoami({ 'X-API-Key': bad })
      expect(res.status).toBe(401)
      expect((await errorOf(res)).code).toBe('key_invalid')
    }
    // a bad key is not rescued by a valid session cookie
    const mixed = await whoami({ Cookie: admin.headers.Cookie, Authorization: 'Bearer hs_00000000_nope' })
    expect(mixed.status).toBe(401)
  })

  it('takes expiresAt as RFC 3339 or epoch ms in the future; the past is a 400 naming expiresAt', async () => {
    const inADay = Date.now() + 86_400_000
    const iso = await create({ name: 'iso', role: 'viewer', expiresAt: new Date(inADay).toISOString() })
    expect(iso.status).toBe(201)
    const isoBody = await iso.json()
    expect(isoBody.expiresAt).toBe(new Date(inADay).toISOString())
    expect((await whoami({ Authorization: `Bearer ${isoBody.key}` })).status).toBe(200)
    const ms = await create({ name: 'ms', role: 'viewer', expiresAt: inADay })
    expect(ms.status).toBe(201)
    expect((await keyRow(t, (await ms.json()).prefix)).expiresAt).toBe(inADay)
    for (const expiresAt of [Date.now() - 60_000, '2001-01-01T00:00:00Z', 'tomorrow']) {
      const res = await create({ name: 'past', role: 'viewer', expiresAt })
      expect(res.status, String(expiresAt)).toBe(400)
      expect((await errorOf(res)).details!.map((d) => d.field)).toEqual(['expiresAt'])
    }
    expect(await t.db.select().from(apiKeys).where(eq(apiKeys.name, 'past'))).toHaveLength(0)
  })

  it('names each bad field on create', async () => {
    const res = await create({ name: '', role: 'root', scopes: ['write'], colour: 'red' })
    expect(res.status).toBe(400)
    const fields = (await errorOf(res)).details!.map((d) => d.field).sort()
    expect(fields).toEqual(['colour', 'name', 'role', 'scopes.0'])
  })

  it('an ingest-only key reaches whoami but not the users API, and the refusal is audited', async () => {
    const { key, prefix } = await (await create({ name: 'ingest', role: 'admin', scopes: ['ingest'] })).json()
    const headers = { Authorization: `Bearer ${key}` }
    const me = await whoami(headers)
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ kind: 'api_key', role: 'admin', scopes: ['ingest'] })
    const users = await t.app.request('/api/v1/users', { headers })
    expect(users.status).toBe(403)
    expect((await errorOf(users)).code).toBe('forbidden')
    expect((await create({ name: 'escalate', role: 'admin' }, headers)).status).toBe(403)
    const refusals = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'auth.forbidden'), eq(auditLog.actor, `key:${prefix}`)))
    expect(refusals.map((r) => r.target).sort()).toEqual(['GET /api/v1/users', 'POST /api/v1/keys'])
  })

  it('only admins manage keys', async () => {
    const viewer = await t.session('viewer')
    const operator = await t.key('operator')
    for (const headers of [viewer.headers, operator.headers]) {
      expect((await t.app.request('/api/v1/keys', { headers })).status).toBe(403)
      expect((await create({ name: 'nope', role: 'admin' }, headers)).status).toBe(403)
    }
    expect(await t.db.select().from(apiKeys).where(eq(apiKeys.name, 'nope'))).toHaveLength(0)
    expect((await t.app.request('/api/v1/keys')).status).toBe(401)
  })
})

describe('API keys on the dashboard', () => {
  const hx = () => ({ ...admin.headers, 'HX-Request': 'true' })
  const form = (fields: Record<string, string>) =>
    t.app.request('/settings/keys', {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { ...FORM, ...hx() },
    })

  it('creates a key from the form and shows it once in the returned fragment', async () => {
    const res = await form({ name: 'n8n', role: 'operator', scope: 'ingest', expiresInDays: '7' })
    expect(res.status).toBe(200)
    const html = await res.text()
    const key = html.match(/<code id="new-key"[^>]*>(hs_[^<]+)<\/code>/)?.[1]
    expect(key).toMatch(/^hs_[a-z0-9]{8}_/)
    const row = await keyRow(t, key!.slice(0, 11))
    expect(row).toMatchObject({ name: 'n8n', role: 'operator', scopes: ['ingest'], keyHash: sha256(key!) })
    expect(row.expiresAt! - row.createdAt).toBeGreaterThanOrEqual(7 * 86_400_000 - 1000)
    expect(row.expiresAt! - row.createdAt).toBeLessThanOrEqual(7 * 86_400_000 + 1000)
    expect(html).toContain(`data-prefix="${row.prefix}"`)
    expect((await whoami({ Authorization: `Bearer ${key}` })).status).toBe(200)
    const page = await t.app.request('/settings/keys', { headers: admin.headers })
    const pageHtml = await page.text()
    expect(page.status).toBe(200)
    expect(pageHtml).toContain(row.prefix)
    expect(pageHtml).not.toContain(key!)
    expect(pageHtml).not.toContain('id="new-key"')
  })

  it('names bad form fields in an htmx error fragment', async () => {
    const res = await form({ name: '', role: 'root', expiresInDays: 'soon' })
    expect(res.status).toBe(400)
    expect(res.headers.get('hx-retarget')).toBe('#flash')
    const html = await res.text()
    for (const field of ['name', 'role', 'expiresInDays']) expect(html).toContain(`<code>${field}</code>`)
  })

  it('revokes a key with DELETE; it stops working at once and leaves the list', async () => {
    const html = await (await form({ name: 'short-lived', role: 'viewer' })).text()
    const key = html.match(/<code id="new-key"[^>]*>(hs_[^<]+)<\/code>/)![1]!
    const row = await keyRow(t, key.slice(0, 11))
    expect((await whoami({ 'X-API-Key': key })).status).toBe(200)
    const res = await t.app.request(`/settings/keys/${row.id}`, { method: 'DELETE', headers: hx() })
    expect(res.status).toBe(200)
    expect(await res.text()).not.toContain(`data-prefix="${row.prefix}"`)
    const after = await whoami({ 'X-API-Key': key })
    expect(after.status).toBe(401)
    expect((await errorOf(after)).code).toBe('key_revoked')
    const [entry] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'key.revoked'), eq(auditLog.target, row.prefix)))
    expect(entry).toMatchObject({ actor: `user:${admin.user.email}`, summary: 'short-lived' })
  })
})
