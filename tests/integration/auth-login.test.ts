import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { apiKeys, sessions, users } from '../../db/schema/auth.ts'
import { sha256 } from '../../app/lib/crypto.ts'
import { PASSWORD, testApp, type TestApp } from '../helpers/app.ts'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const post = (t: TestApp, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  t.app.request(path, { method: 'POST', body: new URLSearchParams(fields), headers: { ...FORM, ...headers } })
const cookieOf = (res: Response) => res.headers.get('set-cookie') ?? ''
const auditRows = (t: TestApp, action: string) => t.db.select().from(auditLog).where(eq(auditLog.action, action))

describe('sign-in form', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t.close())

  it('signs in: 303 to /, HttpOnly SameSite=Lax cookie on /, session row holds only the hash', async () => {
    const u = await t.user('viewer')
    const res = await post(
      t,
      '/login',
      { email: u.email.toUpperCase(), password: PASSWORD },
      { 'User-Agent': 'vitest' },
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/')
    const cookie = cookieOf(res)
    expect(cookie).toMatch(/^hs_session=[\w-]{20,};/)
    expect(cookie).toMatch(/;\s*HttpOnly/i)
    expect(cookie).toMatch(/;\s*SameSite=Lax/i)
    expect(cookie).toMatch(/;\s*Path=\/(;|$)/)
    expect(cookie).not.toMatch(/;\s*Secure/i)
    const token = cookie.match(/hs_session=([^;]+)/)![1]!
    const rows = await t.db.select().from(sessions).where(eq(sessions.userId, u.id))
    expect(rows).toHaveLength(1)
    expect(rows[0]!.id).toBe(sha256(token))
    expect(rows[0]!.id).not.toContain(token)
    expect(rows[0]!.userAgent).toBe('vitest')
    const [row] = await t.db.select().from(users).where(eq(users.id, u.id))
    expect(row!.lastLoginAt).toBeGreaterThan(0)
    const who = await t.app.request('/api/v1/whoami', { headers: { Cookie: `hs_session=${token}` } })
    expect(await who.json()).toMatchObject({ kind: 'user', id: u.id, role: 'viewer' })
  })

  it('wrong password and unknown email both get 401 with the same message and no cookie', async () => {
    const u = await t.user('viewer')
    const wrong = await post(t, '/login', { email: u.email, password: 'not the password' })
    const unknown = await post(t, '/login', { email: 'nobody@example.com', password: 'not the password' })
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toMatch(/text\/html/)
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(await res.text()).toContain('Wrong email or password')
    }
    const [row] = await t.db.select().from(users).where(eq(users.id, u.id))
    expect(row!.failedLogins).toBe(1)
  })

  it('an empty password or bad email is a 400 naming the field, not a sign-in attempt', async () => {
    const res = await post(t, '/login', { email: 'not-an-email', password: '' })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.error.code).toBe('invalid_input')
    expect(body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['email', 'password'])
  })

  it('redirects after sign-in only to local paths', async () => {
    const u = await t.user('viewer')
    const cases: [string, string][] = [
      ['/settings/security', '/settings/security'],
      ['/alerts?state=firing', '/alerts?state=firing'],
      [
        '/explore?name=llm_latency_ms&match[model]=a,b&agg=p95&from=2026-11-23T10:00:00Z',
        '/explore?name=llm_latency_ms&match[model]=a,b&agg=p95&from=2026-11-23T10:00:00Z',
      ],
      ['/\t/evil.com', '/'],
      ['//evil.com', '/'],
      ['//evil.com/path', '/'],
      ['https://evil.com/', '/'],
      ['/\\evil.com', '/'],
      ['javascript:alert(1)', '/'],
    ]
    for (const [next, expected] of cases) {
      const res = await post(t, '/login', { email: u.email, password: PASSWORD, next })
      expect(res.status, next).toBe(303)
      expect(res.headers.get('location'), next).toBe(expected)
    }
  })

  it('a shared link opened signed-out comes back whole after sign-in', async () => {
    const u = await t.user('viewer')
    const link = '/explore?name=llm_latency_ms&match[model]=gpt&agg=p95'
    const page = await t.app.request(link, { headers: { Accept: 'text/html' } })
    expect(page.status).toBe(302)
    const next = new URL(page.headers.get('location')!, 'http://x').searchParams.get('next')
    expect(next).toBe(link)
    const res = await post(t, '/login', { email: u.email, password: PASSWORD, next: next! })
    expect(res.headers.get('location')).toBe(link)
  })

  it('GET /login shows the form, keeps next, and sends a signed-in user home', async () => {
    const page = await t.app.request('/login?next=/settings/keys&expired=1')
    const html = await page.text()
    expect(page.status).toBe(200)
    expect(html).toContain('name="next" value="/settings/keys"')
    expect(html).toContain('Your session has expired')
    const s = await t.session('viewer')
    const again = await t.app.request('/login', { headers: s.headers })
    expect(again.status).toBe(302)
    expect(again.headers.get('location')).toBe('/')
  })

  it('logout deletes the session row and the cookie stops working', async () => {
    const s = await t.session('operator')
    expect((await t.app.request('/api/v1/whoami', { headers: s.headers })).status).toBe(200)
    const res = await t.app.request('/logout', { method: 'POST', headers: s.headers })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/login')
    expect(cookieOf(res)).toMatch(/hs_session=;.*Max-Age=0/i)
    expect(
      await t.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sha256(s.token))),
    ).toHaveLength(0)
    const after = await t.app.request('/api/v1/whoami', { headers: s.headers })
    expect(after.status).toBe(401)
    const [entry] = (await auditRows(t, 'auth.logout')).filter((r) => r.actor === `user:${s.user.email}`)
    expect(entry).toBeDefined()
    // from htmx, with the page's header token
    const hx = await t.session('viewer')
    const out = await t.app.request('/logout', { method: 'POST', headers: { ...hx.headers, 'HX-Request': 'true' } })
    expect(out.status).toBe(200)
    expect(out.headers.get('hx-redirect')).toBe('/login')
    expect(
      await t.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sha256(hx.token))),
    ).toHaveLength(0)
  })

  it('an expired session is 401 session_expired for the API and a redirect for pages', async () => {
    const s = await t.session('viewer')
    await t.db
      .update(sessions)
      .set({ expiresAt: Date.now() - 1000 })
      .where(eq(sessions.id, sha256(s.token)))
    const api = await t.app.request('/api/v1/whoami', { headers: s.headers })
    expect(api.status).toBe(401)
    expect((await api.json()).error.code).toBe('session_expired')
    // the expired row is gone
    expect(
      await t.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sha256(s.token))),
    ).toHaveLength(0)

    const s2 = await t.session('viewer')
    await t.db
      .update(sessions)
      .set({ expiresAt: Date.now() - 1000 })
      .where(eq(sessions.id, sha256(s2.token)))
    const page = await t.app.request('/settings/security', { headers: { ...s2.headers, Accept: 'text/html' } })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe('/login?next=%2Fsettings%2Fsecurity&expired=1')
  })

  it('a session used late in its life is extended (sliding expiry), and so is its cookie', async () => {
    const s = await t.session('viewer')
    const early = await t.app.request('/api/v1/whoami', { headers: s.headers })
    expect(early.headers.get('set-cookie')).toBeNull() // young sessions are left alone
    const soon = Date.now() + 60_000
    await t.db
      .update(sessions)
      .set({ expiresAt: soon })
      .where(eq(sessions.id, sha256(s.token)))
    const res = await t.app.request('/api/v1/whoami', { headers: s.headers })
    expect(res.status).toBe(200)
    const [row] = await t.db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sha256(s.token)))
    expect(row!.expiresAt).toBeGreaterThan(soon + 3_600_000)
    const cookie = cookieOf(res)
    expect(cookie).toContain(`hs_session=${s.token};`)
    expect(cookie).toMatch(/;\s*HttpOnly/i)
    expect(cookie).toMatch(/;\s*SameSite=Lax/i)
    const expires = Date.parse(cookie.match(/Expires=([^;]+)/i)![1]!)
    expect(Math.abs(expires - row!.expiresAt)).toBeLessThan(1000)
  })

  it('without a session: pages redirect to /login, htmx gets HX-Redirect, the API gets 401', async () => {
    const page = await t.app.request('/settings/keys', { headers: { Accept: 'text/html' } })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe('/login?next=%2Fsettings%2Fkeys')
    const hx = await t.app.request('/settings/keys', {
      headers: { 'HX-Request': 'true', 'HX-Current-URL': 'http://localhost/settings/users' },
    })
    expect(hx.headers.get('hx-redirect')).toBe('/login?next=%2Fsettings%2Fusers')
    const api = await t.app.request('/api/v1/users', { headers: { Accept: 'text/html' } })
    expect(api.status).toBe(401)
    expect((await api.json()).error.code).toBe('unauthorized')
  })
})

describe('cookie and lock-out policy', () => {
  it('marks the cookie Secure when PUBLIC_URL is https', async () => {
    const t = await testApp({ PUBLIC_URL: 'https://homeostat.example.com' })
    try {
      const u = await t.user('viewer')
      const res = await post(t, '/login', { email: u.email, password: PASSWORD })
      expect(res.status).toBe(303)
      expect(cookieOf(res)).toMatch(/;\s*Secure/i)
    } finally {
      t.close()
    }
  })

  it('locks after LOGIN_MAX_FAILURES failures, even for the right password, until an admin unlocks', async () => {
    const t = await testApp({ LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_MINUTES: '15' })
    try {
      const u = await t.user('viewer')
      const statuses = []
      for (let i = 0; i < 3; i++)
        statuses.push((await post(t, '/login', { email: u.email, password: `wrong ${i}` })).status)
      expect(statuses).toEqual([401, 401, 429])
      const locked = await post(t, '/login', { email: u.email, password: PASSWORD })
      expect(locked.status).toBe(429)
      expect(locked.headers.get('set-cookie')).toBeNull()
      const retry = Number(locked.headers.get('retry-after'))
      expect(retry).toBeGreaterThan(0)
      expect(retry).toBeLessThanOrEqual(15 * 60)
      expect(await locked.text()).toContain('Too many failed sign-ins')
      const [row] = await t.db.select().from(users).where(eq(users.id, u.id))
      expect(row!.failedLogins).toBe(3)
      expect(row!.lockedUntil).toBeGreaterThan(Date.now())

      const admin = await t.session('admin')
      const listed = await t.app.request(`/api/v1/users/${u.id}`, { headers: admin.headers })
      expect((await listed.json()).locked).toBe(true)
      const unlock = await t.json('PATCH', `/api/v1/users/${u.id}`, { unlock: true }, admin.headers)
      expect(unlock.status).toBe(200)
      expect((await unlock.json()).locked).toBe(false)
      const ok = await post(t, '/login', { email: u.email, password: PASSWORD })
      expect(ok.status).toBe(303)
      const [after] = await t.db.select().from(users).where(eq(users.id, u.id))
      expect(after!.failedLogins).toBe(0)
      expect(after!.lockedUntil).toBeNull()
    } finally {
      t.close()
    }
  })

  it('a lock-out ends by itself once locked_until has passed, and the count starts afresh', async () => {
    const t = await testApp({ LOGIN_MAX_FAILURES: '2' })
    try {
      const u = await t.user('viewer')
      const fail = async () => (await post(t, '/login', { email: u.email, password: 'wrong' })).status
      expect([await fail(), await fail()]).toEqual([401, 429])
      expect((await post(t, '/login', { email: u.email, password: PASSWORD })).status).toBe(429)
      await t.db
        .update(users)
        .set({ lockedUntil: Date.now() - 1 })
        .where(eq(users.id, u.id))
      // one typo after the lock-out is one failure, not another lock-out
      expect(await fail()).toBe(401)
      const [row] = await t.db.select().from(users).where(eq(users.id, u.id))
      expect(row).toMatchObject({ failedLogins: 1, lockedUntil: null })
      expect(await fail()).toBe(429)
      await t.db
        .update(users)
        .set({ lockedUntil: Date.now() - 1 })
        .where(eq(users.id, u.id))
      expect((await post(t, '/login', { email: u.email, password: PASSWORD })).status).toBe(303)
    } finally {
      t.close()
    }
  })

  it('rate-limits sign-in attempts per client address', async () => {
    const t = await testApp({ TRUST_PROXY: 'true', LOGIN_RATE_LIMIT_PER_MINUTE: '3' })
    try {
      const u = await t.user('viewer')
      // The client may forge the left-most entry; the trusted proxy appended the address it saw (right-most).
      const from = (ip: string) => ({ 'X-Forwarded-For': `203.0.113.77, ${ip}` })
      for (let i = 0; i < 3; i++)
        expect((await post(t, '/login', { email: u.email, password: 'wrong' }, from('203.0.113.7'))).status).toBe(401)
      const limited = await post(t, '/login', { email: u.email, password: PASSWORD }, from('203.0.113.7'))
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
      expect((await limited.json()).error.code).toBe('rate_limited')
      const [throttled] = await auditRows(t, 'auth.login_throttled')
      expect(throttled).toMatchObject({ ip: '203.0.113.7', target: u.email, actor: 'anonymous' })
      // another address is not affected
      expect((await post(t, '/login', { email: u.email, password: PASSWORD }, from('203.0.113.8'))).status).toBe(303)
    } finally {
      t.close()
    }
  })
})

describe('CSRF', () => {
  let t: TestApp
  let admin: Awaited<ReturnType<TestApp['session']>>
  beforeAll(async () => {
    t = await testApp()
    admin = await t.session('admin')
  })
  afterAll(() => t.close())
  const cookieOnly = () => ({ Cookie: admin.headers.Cookie })
  const keyCount = async () => (await t.db.select().from(apiKeys)).length

  it('refuses unsafe cookie requests without the token, and changes nothing', async () => {
    const before = await keyCount()
    const res = await t.json('POST', '/api/v1/keys', { name: 'x', role: 'viewer' }, cookieOnly())
    expect(res.status).toBe(403)
    expect((await res.json()).error.code).toBe('csrf_failed')
    expect(await keyCount()).toBe(before)
    const v = await t.user('viewer')
    const patch = await t.json('PATCH', `/api/v1/users/${v.id}`, { role: 'operator' }, cookieOnly())
    expect(patch.status).toBe(403)
    expect((await patch.json()).error.code).toBe('csrf_failed')
    const del = await t.app.request(`/api/v1/users/${v.id}`, { method: 'DELETE', headers: cookieOnly() })
    expect(del.status).toBe(403)
    const [row] = await t.db.select().from(users).where(eq(users.id, v.id))
    expect(row!.role).toBe('viewer')
    const logout = await t.app.request('/logout', { method: 'POST', headers: cookieOnly() })
    expect(logout.status).toBe(403)
    expect(
      await t.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sha256(admin.token))),
    ).toHaveLength(1)
  })

  it('refuses a wrong token, including another session’s token', async () => {
    const other = await t.session('viewer')
    for (const token of ['wrong', other.csrf, `${admin.csrf}x`]) {
      const res = await t.json(
        'POST',
        '/api/v1/keys',
        { name: 'x', role: 'viewer' },
        { ...cookieOnly(), 'X-CSRF-Token': token },
      )
      expect(res.status).toBe(403)
      expect((await res.json()).error.code).toBe('csrf_failed')
    }
  })

  it('accepts the header or the _csrf form field', async () => {
    const withHeader = await t.json('POST', '/api/v1/keys', { name: 'hdr', role: 'viewer' }, admin.headers)
    expect(withHeader.status).toBe(201)
    const withField = await post(
      t,
      '/settings/keys',
      { name: 'from-form', role: 'viewer', _csrf: admin.csrf },
      cookieOnly(),
    )
    expect(withField.status).toBe(200)
    expect(await withField.text()).toContain('from-form')
    const wrongField = await post(
      t,
      '/settings/keys',
      { name: 'bad-form', role: 'viewer', _csrf: 'nope' },
      cookieOnly(),
    )
    expect(wrongField.status).toBe(403)
    expect(await t.db.select().from(apiKeys).where(eq(apiKeys.name, 'bad-form'))).toHaveLength(0)
  })

  it('needs no token for API-key requests', async () => {
    const { headers } = await t.key('admin')
    const res = await t.json('POST', '/api/v1/keys', { name: 'by-key', role: 'viewer' }, headers)
    expect(res.status).toBe(201)
  })

  it('refuses a cross-site Origin outright, even with a valid token or an API key', async () => {
    const { headers } = await t.key('admin')
    const before = await keyCount()
    const res = await t.json(
      'POST',
      '/api/v1/keys',
      { name: 'x', role: 'viewer' },
      { ...admin.headers, Origin: 'https://evil.example' },
    )
    expect(res.status).toBe(403)
    expect((await res.json()).error.code).toBe('csrf_origin')
    const byKey = await t.json(
      'POST',
      '/api/v1/keys',
      { name: 'x', role: 'viewer' },
      { ...headers, Origin: 'https://evil.example' },
    )
    expect(byKey.status).toBe(403)
    expect(await keyCount()).toBe(before)
    const sameSite = await t.json(
      'POST',
      '/api/v1/keys',
      { name: 'same', role: 'viewer' },
      { ...admin.headers, Origin: t.config.PUBLIC_URL },
    )
    expect(sameSite.status).toBe(201)
  })
})
