import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog, type AuditEntry } from '../../db/schema/audit.ts'
import { users } from '../../db/schema/auth.ts'
import { writeAudit } from '../../app/modules/audit/service.ts'
import { PASSWORD, testApp, type TestApp } from '../helpers/app.ts'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
type Item = Omit<AuditEntry, 'ts'> & { ts: string }
const rowsFor = (t: TestApp, action: string, target?: string) =>
  t.db
    .select()
    .from(auditLog)
    .where(
      target === undefined
        ? eq(auditLog.action, action)
        : and(eq(auditLog.action, action), eq(auditLog.target, target)),
    )

describe('what gets recorded', () => {
  let t: TestApp
  let n = 0
  // Each request comes from its own address with its own request id, so each row can be traced to it.
  const via = () => ({ 'X-Forwarded-For': `198.51.100.${++n}`, 'X-Request-Id': `req-audit-${n}` })
  const expectTraced = (row: AuditEntry | undefined, h: Record<string, string>) =>
    expect(row).toMatchObject({ ip: h['X-Forwarded-For'], requestId: h['X-Request-Id'] })
  let admin: { email: string; headers: Record<string, string> }

  beforeAll(async () => {
    t = await testApp({ TRUST_PROXY: 'true' })
    const u = await t.user('admin')
    admin = { email: u.email, headers: (await t.login(u.email)).headers }
  })
  afterAll(() => t.close())

  it('sign-in, failed sign-in (known or unknown email) and sign-out', async () => {
    const u = await t.user('viewer')
    const signIn = via()
    const res = await t.app.request('/login', {
      method: 'POST',
      body: new URLSearchParams({ email: u.email, password: PASSWORD }),
      headers: { ...FORM, ...signIn },
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('x-request-id')).toBe(signIn['X-Request-Id'])
    const [login] = await rowsFor(t, 'auth.login', u.email)
    expect(login).toMatchObject({ actor: `user:${u.email}` })
    expectTraced(login, signIn)
    expect(Math.abs(login!.ts - Date.now())).toBeLessThan(60_000)

    for (const email of [u.email, 'ghost@example.com']) {
      const h = via()
      const bad = await t.app.request('/login', {
        method: 'POST',
        body: new URLSearchParams({ email, password: 'wrong password' }),
        headers: { ...FORM, ...h },
      })
      expect(bad.status).toBe(401)
      const [failed] = await rowsFor(t, 'auth.login_failed', email)
      expect(failed).toMatchObject({ actor: 'anonymous', summary: 'invalid_credentials' })
      expectTraced(failed, h)
    }

    const cookie = res.headers.get('set-cookie')!.match(/hs_session=[^;]+/)![0]
    const csrf = (await (await t.app.request('/settings/security', { headers: { Cookie: cookie } })).text()).match(
      /name="_csrf" value="([^"]+)"/,
    )![1]!
    const out = via()
    expect(
      (
        await t.app.request('/logout', {
          method: 'POST',
          body: new URLSearchParams({ _csrf: csrf }),
          headers: { ...FORM, Cookie: cookie, ...out },
        })
      ).status,
    ).toBe(303)
    const [logout] = (await rowsFor(t, 'auth.logout')).filter((r) => r.actor === `user:${u.email}`)
    expectTraced(logout, out)
  })

  it('user and key changes, with the acting admin as actor', async () => {
    const h1 = via()
    const created = await t.json(
      'POST',
      '/api/v1/users',
      { email: 'audited@example.com', role: 'viewer', password: PASSWORD },
      { ...admin.headers, ...h1 },
    )
    const id = (await created.json()).id
    const h2 = via()
    await t.json(
      'PATCH',
      `/api/v1/users/${id}`,
      { role: 'operator', password: 'a different password' },
      { ...admin.headers, ...h2 },
    )
    const h3 = via()
    await t.app.request(`/api/v1/users/${id}`, { method: 'DELETE', headers: { ...admin.headers, ...h3 } })
    const h4 = via()
    const key = await (
      await t.json(
        'POST',
        '/api/v1/keys',
        { name: 'ci', role: 'operator', scopes: ['ingest'] },
        { ...admin.headers, ...h4 },
      )
    ).json()
    const h5 = via()
    await t.app.request(`/api/v1/keys/${key.id}`, { method: 'DELETE', headers: { ...admin.headers, ...h5 } })

    const expected: [string, string, string, Record<string, string>][] = [
      ['user.created', 'audited@example.com', 'role viewer', h1],
      ['user.updated', 'audited@example.com', 'changed role, password', h2],
      ['user.deleted', 'audited@example.com', '', h3],
      ['key.created', key.prefix, 'ci, role operator, scopes ingest', h4],
      ['key.revoked', key.prefix, 'ci', h5],
    ]
    for (const [action, target, summary, h] of expected) {
      const rows = await rowsFor(t, action, target)
      expect(rows, action).toHaveLength(1)
      expect(rows[0]).toMatchObject({ actor: `user:${admin.email}`, summary })
      expectTraced(rows[0], h)
    }
    // API-key callers are recorded by key prefix
    const { key: adminKey } = await t.key('admin')
    await t.json(
      'POST',
      '/api/v1/users',
      { email: 'by-key@example.com', role: 'viewer', password: PASSWORD },
      { Authorization: `Bearer ${adminKey}` },
    )
    const [byKey] = await rowsFor(t, 'user.created', 'by-key@example.com')
    expect(byKey!.actor).toBe(`key:${adminKey.slice(0, 11)}`)
  })

  it('forbidden calls are recorded; refused bad input and conflicts write no change row', async () => {
    const viewer = await t.session('viewer')
    const h = via()
    expect((await t.app.request('/api/v1/audit', { headers: { ...viewer.headers, ...h } })).status).toBe(403)
    const [forbidden] = await rowsFor(t, 'auth.forbidden', 'GET /api/v1/audit')
    expect(forbidden).toMatchObject({ actor: `user:${viewer.user.email}`, summary: 'needs admin' })
    expectTraced(forbidden, h)
    const before = (await t.db.select().from(auditLog)).length
    expect(
      (await t.json('POST', '/api/v1/users', { email: 'bad', role: 'viewer', password: PASSWORD }, admin.headers))
        .status,
    ).toBe(400)
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/users',
          { email: viewer.user.email, role: 'viewer', password: PASSWORD },
          admin.headers,
        )
      ).status,
    ).toBe(409)
    expect(
      (await t.json('POST', '/api/v1/keys', { name: 'k', role: 'viewer' }, { Cookie: admin.headers.Cookie! })).status,
    ).toBe(403) // no CSRF token
    expect((await t.db.select().from(auditLog)).length).toBe(before)
    expect(await t.db.select().from(users).where(eq(users.email, 'bad'))).toHaveLength(0)
  })
})

describe('GET /api/v1/audit', () => {
  let t: TestApp
  let headers: Record<string, string>
  const T0 = Date.parse('2026-03-01T12:00:00.000Z')
  const HOUR = 3_600_000
  const seed: [number, string, string, string][] = [
    // [ts, actor, action, target]
    [T0, 'user:ada@example.com', 'auth.login', 'ada@example.com'],
    [T0 + HOUR, 'anonymous', 'auth.login_failed', 'ada@example.com'],
    [T0 + 2 * HOUR, 'user:ada@example.com', 'key.created', 'hs_aaaa1111'],
    [T0 + 3 * HOUR, 'user:bob@example.com', 'auth.login', 'bob@example.com'],
    [T0 + 4 * HOUR, 'user:bob@example.com', 'user.2fa_enabled', 'bob@example.com'],
    [T0 + 5 * HOUR, 'user:ada@example.com', 'key.revoked', 'hs_aaaa1111'],
    [T0 + 6 * HOUR, 'anonymous', 'auth.login_throttled', 'eve@example.com'],
    [T0 + 7 * HOUR, 'user:ada@example.com', 'authz.custom', 'x'],
  ]
  const get = async (query: string, h = headers) => {
    const res = await t.app.request(`/api/v1/audit?${query}`, { headers: h })
    return { res, body: res.status === 200 ? ((await res.json()) as { items: Item[]; next: string | null }) : null }
  }
  const actions = (items: Item[]) => items.map((i) => i.action)

  beforeAll(async () => {
    t = await testApp()
    for (const [ts, actor, action, target] of seed)
      await writeAudit(
        t.db,
        { actor, action, target, summary: `seeded ${action}`, ip: '192.0.2.1', requestId: `seed-${ts}` },
        ts,
      )
    headers = (await t.key('admin')).headers
  })
  afterAll(() => t.close())

  it('lists newest first with RFC 3339 times', async () => {
    const { res, body } = await get(`to=${T0 + 7 * HOUR}`)
    expect(res.status).toBe(200)
    expect(body!.items).toHaveLength(8)
    expect(body!.items[0]).toEqual({
      id: expect.any(Number),
      ts: '2026-03-01T19:00:00.000Z',
      actor: 'user:ada@example.com',
      action: 'authz.custom',
      target: 'x',
      requestId: `seed-${T0 + 7 * HOUR}`,
      ip: '192.0.2.1',
      summary: 'seeded authz.custom',
    })
    expect(body!.items.at(-1)!.ts).toBe('2026-03-01T12:00:00.000Z')
    expect(body!.next).toBeNull()
  })

  it('filters by actor, exact action, action prefix and target', async () => {
    expect(actions((await get('actor=user:bob@example.com')).body!.items)).toEqual(['user.2fa_enabled', 'auth.login'])
    expect(actions((await get('action=auth.login')).body!.items)).toEqual(['auth.login', 'auth.login'])
    expect(actions((await get(`action=auth.*&to=${T0 + 7 * HOUR}`)).body!.items)).toEqual([
      'auth.login_throttled',
      'auth.login',
      'auth.login_failed',
      'auth.login',
    ])
    expect(actions((await get('action=key.*')).body!.items)).toEqual(['key.revoked', 'key.created'])
    expect(actions((await get('target=hs_aaaa1111')).body!.items)).toEqual(['key.revoked', 'key.created'])
    expect(actions((await get('actor=user:ada@example.com&action=key.*&target=hs_aaaa1111')).body!.items)).toEqual([
      'key.revoked',
      'key.created',
    ])
    expect((await get('actor=nobody')).body!.items).toEqual([])
  })

  it('treats _ and % in an action prefix literally', async () => {
    expect(actions((await get('action=auth.login_*')).body!.items)).toEqual([
      'auth.login_throttled',
      'auth.login_failed',
    ])
    expect(actions((await get('action=user.2fa_en*')).body!.items)).toEqual(['user.2fa_enabled'])
    expect((await get('action=%25*')).body!.items).toEqual([])
  })

  it('filters by time range, RFC 3339 or epoch ms, both ends inclusive', async () => {
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString())
    expect(actions((await get(`from=${iso(T0 + HOUR)}&to=${T0 + 2 * HOUR}`)).body!.items)).toEqual([
      'key.created',
      'auth.login_failed',
    ])
    expect(actions((await get(`from=${T0 + 6 * HOUR}&to=${iso(T0 + 7 * HOUR)}`)).body!.items)).toEqual([
      'authz.custom',
      'auth.login_throttled',
    ])
    expect(actions((await get(`to=${encodeURIComponent('2026-03-01T14:30:00+01:00')}`)).body!.items)).toEqual([
      'auth.login_failed',
      'auth.login',
    ])
    const bad = await get('from=yesterday')
    expect(bad.res.status).toBe(400)
    expect((await bad.res.json()).error.details.map((d: { field: string }) => d.field)).toEqual(['from'])
  })

  it('pages with a cursor, without overlap or gaps', async () => {
    const seen: Item[] = []
    let cursor: string | null = ''
    let pages = 0
    while (cursor !== null) {
      const { body } = await get(`limit=2&to=${T0 + 7 * HOUR}${cursor ? `&cursor=${cursor}` : ''}`)
      expect(body!.items.length).toBeLessThanOrEqual(2)
      seen.push(...body!.items)
      cursor = body!.next
      pages++
    }
    expect(pages).toBe(4)
    expect(seen.map((i) => i.ts)).toEqual(seed.map(([ts]) => new Date(ts).toISOString()).reverse())
    expect(new Set(seen.map((i) => i.id)).size).toBe(8)
  })

  it('refuses limit over 500 or under 1', async () => {
    for (const limit of ['501', '0', 'ten']) {
      const { res } = await get(`limit=${limit}`)
      expect(res.status, limit).toBe(400)
      expect((await res.json()).error.details.map((d: { field: string }) => d.field)).toEqual(['limit'])
    }
    expect((await get('limit=500')).res.status).toBe(200)
  })

  it('is for admins only', async () => {
    const viewer = await t.session('viewer')
    const operator = await t.key('operator')
    const ingest = await t.key('admin', ['ingest'])
    for (const h of [viewer.headers, operator.headers, ingest.headers]) expect((await get('', h)).res.status).toBe(403)
    expect((await t.app.request('/api/v1/audit')).status).toBe(401)
    expect((await t.app.request('/settings/audit', { headers: viewer.headers })).status).toBe(403)
  })

  it('the dashboard page and rows fragment render entries, filters and "load more"', async () => {
    const admin = await t.session('admin')
    const page = await t.app.request(`/settings/audit?to=${T0 + 7 * HOUR}`, { headers: admin.headers })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('<h1>Audit log</h1>')
    expect(html).toContain('<code>key.created</code>')
    expect(html).toContain('user:bob@example.com')
    expect(html).toContain('2026-03-01 14:00:00 UTC')
    expect(html).toContain('192.0.2.1')
    const hx = { ...admin.headers, 'HX-Request': 'true' }
    const rows = await t.app.request(`/settings/audit/rows?action=auth.*&limit=2&to=${T0 + 7 * HOUR}`, { headers: hx })
    expect(rows.status).toBe(200)
    const fragment = await rows.text()
    expect(fragment.match(/<tr>/g)).toHaveLength(2)
    expect(fragment).toContain('<code>auth.login_throttled</code>')
    expect(fragment).not.toContain('key.created')
    const more = fragment.match(/hx-get="([^"]+)"/)![1]!.replace(/&amp;/g, '&')
    expect(more).toMatch(/^\/settings\/audit\/rows\?.*cursor=\d+/)
    const next = await (await t.app.request(more, { headers: hx })).text()
    expect(next).toContain('<code>auth.login_failed</code>')
    expect(next).not.toContain('auth.login_throttled')
    const none = await (await t.app.request('/settings/audit/rows?actor=nobody', { headers: hx })).text()
    expect(none).toContain('No entries match.')
  })
})
