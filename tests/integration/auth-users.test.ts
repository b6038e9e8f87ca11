import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { sessions, setupTokens, users } from '../../db/schema/auth.ts'
import { ensureFirstAdmin } from '../../app/modules/auth/setup.ts'
import { PASSWORD, testApp, type TestApp } from '../helpers/app.ts'

type Detail = { field: string; message: string }
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const post = (t: TestApp, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  t.app.request(path, { method: 'POST', body: new URLSearchParams(fields), headers: { ...FORM, ...headers } })
const fieldsOf = async (res: Response) => ((await res.json()).error.details as Detail[]).map((d) => d.field).sort()
const userRow = async (t: TestApp, id: string) => (await t.db.select().from(users).where(eq(users.id, id)))[0]
const sessionsOf = (t: TestApp, userId: string) => t.db.select().from(sessions).where(eq(sessions.userId, userId))

describe('users API (admin)', () => {
  let t: TestApp
  let admin: Awaited<ReturnType<TestApp['session']>>
  beforeAll(async () => {
    t = await testApp()
    admin = await t.session('admin')
  })
  afterAll(() => t.close())

  it('creates a user: 201, no secrets in the reply, hashed password, audited', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/users',
      { email: ' Grace@Example.com ', name: 'Grace', role: 'operator', password: PASSWORD },
      admin.headers,
    )
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(body).toMatchObject({
      email: 'grace@example.com',
      name: 'Grace',
      role: 'operator',
      twoFactor: false,
      locked: false,
      lastLoginAt: null,
    })
    expect(Object.keys(body)).not.toContain('passwordHash')
    expect(JSON.stringify(body)).not.toContain('scrypt')
    const row = await userRow(t, body.id)
    expect(row!.passwordHash).toMatch(/^scrypt\$/)
    expect(row!.passwordHash).not.toContain(PASSWORD)
    const [entry] = await t.db.select().from(auditLog).where(eq(auditLog.target, 'grace@example.com'))
    expect(entry).toMatchObject({ action: 'user.created', actor: `user:${admin.user.email}`, summary: 'role operator' })
    // the new user can sign in
    expect((await t.login('grace@example.com')).res.status).toBe(303)
  })

  it('refuses a duplicate email (any case) with 409', async () => {
    const u = await t.user('viewer')
    const res = await t.json(
      'POST',
      '/api/v1/users',
      { email: u.email.toUpperCase(), role: 'viewer', password: PASSWORD },
      admin.headers,
    )
    expect(res.status).toBe(409)
    expect((await res.json()).error.code).toBe('conflict')
  })

  it('names each bad field: email, short password, unknown role, unknown field, missing field', async () => {
    const before = (await t.db.select().from(users)).length
    const bad = await t.json(
      'POST',
      '/api/v1/users',
      { email: 'not-an-email', role: 'root', password: 'short', shoeSize: 44 },
      admin.headers,
    )
    expect(bad.status).toBe(400)
    const body = await bad.json()
    expect(body.error.code).toBe('invalid_input')
    const details = body.error.details as Detail[]
    expect(details.map((d) => d.field).sort()).toEqual(['email', 'password', 'role', 'shoeSize'])
    expect(details.find((d) => d.field === 'shoeSize')!.message).toBe('unknown field')
    expect(details.find((d) => d.field === 'password')!.message).toMatch(/12 characters/)
    expect(details.find((d) => d.field === 'role')!.message).toMatch(/viewer, operator, admin/)
    const missing = await t.json('POST', '/api/v1/users', { email: 'ok@example.com' }, admin.headers)
    expect(missing.status).toBe(400)
    expect(await fieldsOf(missing)).toEqual(['password', 'role'])
    expect((await t.db.select().from(users)).length).toBe(before)
  })

  it('lists and gets users without password hashes; unknown id is 404', async () => {
    const list = await t.app.request('/api/v1/users', { headers: admin.headers })
    expect(list.status).toBe(200)
    const { items } = await list.json()
    expect(items.map((u: { email: string }) => u.email)).toContain(admin.user.email)
    expect(JSON.stringify(items)).not.toMatch(/scrypt|passwordHash|totpSecret|recoveryCodes/)
    const one = await t.app.request(`/api/v1/users/${admin.user.id}`, { headers: admin.headers })
    expect(await one.json()).toMatchObject({ id: admin.user.id, role: 'admin' })
    const none = await t.app.request('/api/v1/users/01NOPE', { headers: admin.headers })
    expect(none.status).toBe(404)
    expect((await none.json()).error.code).toBe('not_found')
    expect((await t.json('PATCH', '/api/v1/users/01NOPE', { name: 'x' }, admin.headers)).status).toBe(404)
    expect((await t.app.request('/api/v1/users/01NOPE', { method: 'DELETE', headers: admin.headers })).status).toBe(404)
  })

  it('changes a role and ends that user’s sessions', async () => {
    const s = await t.session('viewer')
    const res = await t.json('PATCH', `/api/v1/users/${s.user.id}`, { role: 'operator', name: 'Ops' }, admin.headers)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ role: 'operator', name: 'Ops' })
    expect(await sessionsOf(t, s.user.id)).toHaveLength(0)
    expect((await t.app.request('/api/v1/whoami', { headers: s.headers })).status).toBe(401)
    const [entry] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.target, s.user.email), eq(auditLog.action, 'user.updated')))
    expect(entry).toMatchObject({ actor: `user:${admin.user.email}`, summary: 'changed name, role' })
    const bad = await t.json(
      'PATCH',
      `/api/v1/users/${s.user.id}`,
      { role: 'superuser', password: 'short' },
      admin.headers,
    )
    expect(bad.status).toBe(400)
    expect(await fieldsOf(bad)).toEqual(['password', 'role'])
  })

  it('a password change by an admin ends the user’s sessions; only the new password works', async () => {
    const s = await t.session('operator')
    await t.login(s.user.email) // a second session
    expect(await sessionsOf(t, s.user.id)).toHaveLength(2)
    const res = await t.json('PATCH', `/api/v1/users/${s.user.id}`, { password: 'a brand new password' }, admin.headers)
    expect(res.status).toBe(200)
    expect(await sessionsOf(t, s.user.id)).toHaveLength(0)
    const [entry] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.target, s.user.email), eq(auditLog.action, 'user.updated')))
    expect(entry!.summary).toBe('changed password')
    expect(entry!.summary).not.toContain('brand new')
    const old = await post(t, '/login', { email: s.user.email, password: PASSWORD })
    expect(old.status).toBe(401)
    expect((await t.login(s.user.email, 'a brand new password')).res.status).toBe(303)
  })

  it('deletes a user, whose sessions stop working', async () => {
    const s = await t.session('viewer')
    const res = await t.app.request(`/api/v1/users/${s.user.id}`, { method: 'DELETE', headers: admin.headers })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ deleted: s.user.id })
    expect(await userRow(t, s.user.id)).toBeUndefined()
    expect(await sessionsOf(t, s.user.id)).toHaveLength(0)
    expect((await t.app.request('/api/v1/whoami', { headers: s.headers })).status).toBe(401)
  })

  it('non-admins get 403 and change nothing', async () => {
    const viewer = await t.session('viewer')
    const operator = await t.key('operator')
    const before = (await t.db.select().from(users)).length
    for (const headers of [viewer.headers, operator.headers]) {
      expect((await t.app.request('/api/v1/users', { headers })).status).toBe(403)
      const res = await t.json(
        'POST',
        '/api/v1/users',
        { email: 'sneaky@example.com', role: 'admin', password: PASSWORD },
        headers,
      )
      expect(res.status).toBe(403)
      expect((await res.json()).error.code).toBe('forbidden')
      expect((await t.json('PATCH', `/api/v1/users/${viewer.user.id}`, { role: 'admin' }, headers)).status).toBe(403)
    }
    expect((await t.db.select().from(users)).length).toBe(before)
    expect((await userRow(t, viewer.user.id))!.role).toBe('viewer')
    expect((await t.app.request('/settings/users', { headers: viewer.headers })).status).toBe(403)
  })

  it('the dashboard users page adds, re-roles and deletes users through htmx forms', async () => {
    const hx = { ...admin.headers, 'HX-Request': 'true' }
    const page = await t.app.request('/settings/users', { headers: admin.headers })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain(admin.user.email)
    const add = await post(
      t,
      '/settings/users',
      { email: 'page-user@example.com', name: 'P', role: 'viewer', password: PASSWORD },
      hx,
    )
    expect(add.status).toBe(200)
    expect(await add.text()).toContain('page-user@example.com')
    const [row] = await t.db.select().from(users).where(eq(users.email, 'page-user@example.com'))
    expect(row!.role).toBe('viewer')
    const badAdd = await post(t, '/settings/users', { email: 'x', role: 'viewer', password: 'short' }, hx)
    expect(badAdd.status).toBe(400)
    const fragment = await badAdd.text()
    expect(badAdd.headers.get('hx-retarget')).toBe('#flash')
    expect(fragment).toContain('<code>email</code>')
    expect(fragment).toContain('<code>password</code>')
    const reRole = await t.app.request(`/settings/users/${row!.id}`, {
      method: 'PATCH',
      body: new URLSearchParams({ role: 'operator' }),
      headers: { ...FORM, ...hx },
    })
    expect(reRole.status).toBe(200)
    expect((await userRow(t, row!.id))!.role).toBe('operator')
    const del = await t.app.request(`/settings/users/${row!.id}`, { method: 'DELETE', headers: hx })
    expect(del.status).toBe(200)
    expect(await del.text()).not.toContain('page-user@example.com')
    expect(await userRow(t, row!.id)).toBeUndefined()
  })
})

describe('the last admin', () => {
  it('cannot be deleted or demoted, by API or page, until another admin exists', async () => {
    const t = await testApp()
    try {
      const admin = await t.session('admin')
      const { headers: keyHeaders } = await t.key('admin')
      for (const headers of [admin.headers, keyHeaders]) {
        const del = await t.app.request(`/api/v1/users/${admin.user.id}`, { method: 'DELETE', headers })
        expect(del.status).toBe(409)
        expect((await del.json()).error.message).toMatch(/last admin/)
        const demote = await t.json('PATCH', `/api/v1/users/${admin.user.id}`, { role: 'operator' }, headers)
        expect(demote.status).toBe(409)
      }
      const page = await t.app.request(`/settings/users/${admin.user.id}`, {
        method: 'PATCH',
        body: new URLSearchParams({ role: 'viewer' }),
        headers: { ...FORM, ...admin.headers, 'HX-Request': 'true' },
      })
      expect(page.status).toBe(409)
      expect((await userRow(t, admin.user.id))!.role).toBe('admin')
      // keeping the admin role, or changing the name, is fine
      expect(
        (await t.json('PATCH', `/api/v1/users/${admin.user.id}`, { role: 'admin', name: 'Root' }, admin.headers))
          .status,
      ).toBe(200)
      const second = await t.user('admin')
      const demote = await t.json('PATCH', `/api/v1/users/${admin.user.id}`, { role: 'viewer' }, keyHeaders)
      expect(demote.status).toBe(200)
      expect(
        (await t.app.request(`/api/v1/users/${second.id}`, { method: 'DELETE', headers: keyHeaders })).status,
      ).toBe(409)
    } finally {
      t.close()
    }
  })
})

describe('my account: /api/v1/me and /api/v1/me/password', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t.close())

  it('returns the signed-in user, and refuses API keys with 400 user_only', async () => {
    const s = await t.session('viewer')
    const me = await t.app.request('/api/v1/me', { headers: s.headers })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ id: s.user.id, email: s.user.email, role: 'viewer' })
    const { headers } = await t.key('admin')
    const byKey = await t.app.request('/api/v1/me', { headers })
    expect(byKey.status).toBe(400)
    expect((await byKey.json()).error.code).toBe('user_only')
    expect((await t.app.request('/api/v1/me')).status).toBe(401)
  })

  it('changes my password with the current one, and ends all my sessions', async () => {
    const s = await t.session('operator')
    await t.login(s.user.email)
    const wrong = await t.json(
      'POST',
      '/api/v1/me/password',
      { currentPassword: 'not it', newPassword: 'another long password' },
      s.headers,
    )
    expect(wrong.status).toBe(400)
    expect(await fieldsOf(wrong)).toEqual(['currentPassword'])
    const short = await t.json(
      'POST',
      '/api/v1/me/password',
      { currentPassword: PASSWORD, newPassword: 'short' },
      s.headers,
    )
    expect(short.status).toBe(400)
    expect(await fieldsOf(short)).toEqual(['newPassword'])
    expect(await sessionsOf(t, s.user.id)).toHaveLength(2)
    const ok = await t.json(
      'POST',
      '/api/v1/me/password',
      { currentPassword: PASSWORD, newPassword: 'another long password' },
      s.headers,
    )
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ ok: true, signedOut: true })
    expect(await sessionsOf(t, s.user.id)).toHaveLength(0)
    expect((await t.app.request('/api/v1/me', { headers: s.headers })).status).toBe(401)
    const [entry] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'user.password_changed'))
    expect(entry).toMatchObject({ actor: `user:${s.user.email}`, target: s.user.email })
    expect((await t.login(s.user.email, 'another long password')).res.status).toBe(303)
  })

  it('changes my password from the dashboard security page', async () => {
    const s = await t.session('viewer')
    const hx = { ...s.headers, ...FORM, 'HX-Request': 'true' }
    const change = (fields: Record<string, string>) =>
      t.app.request('/settings/security/password', { method: 'POST', body: new URLSearchParams(fields), headers: hx })
    const wrong = await change({ currentPassword: 'nope', newPassword: 'a page-made password' })
    expect(wrong.status).toBe(400)
    expect(await wrong.text()).toContain('<code>currentPassword</code>: does not match')
    const short = await change({ currentPassword: PASSWORD, newPassword: 'short' })
    expect(short.status).toBe(400)
    expect(await short.text()).toContain('<code>newPassword</code>')
    const ok = await change({ currentPassword: PASSWORD, newPassword: 'a page-made password' })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('hx-redirect')).toBe('/login')
    expect(await sessionsOf(t, s.user.id)).toHaveLength(0)
    expect((await t.login(s.user.email, 'a page-made password')).res.status).toBe(303)
  })
})

describe('first start', () => {
  let t: TestApp
  const cfg = (over: Partial<Parameters<typeof ensureFirstAdmin>[1]> = {}) => ({
    setupTtlMinutes: 60,
    publicUrl: 'http://localhost:8787',
    ...over,
  })
  const tokenOf = (url: string) => new URL(url).searchParams.get('token')!
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t.close())

  it('issues a one-time setup link that creates the admin and signs in, once', async () => {
    const first = await ensureFirstAdmin(t.db, cfg())
    expect(first.kind).toBe('setup_link')
    const url = (first as { url: string }).url
    expect(url).toMatch(/^http:\/\/localhost:8787\/setup\?token=[\w-]{20,}$/)
    const token = tokenOf(url)
    expect(await (await t.app.request('/login')).text()).toContain('No user exists yet')
    const form = await t.app.request(`/setup?token=${token}`)
    expect(form.status).toBe(200)
    expect(await form.text()).toContain(`name="token" value="${token}"`)
    expect((await t.app.request('/setup?token=wrong', { headers: { Accept: 'text/html' } })).status).toBe(410)

    // bad input re-renders the form with 400 naming each field, and leaves the link usable
    const bad = await post(t, '/setup', { token, email: 'nope', password: 'short' })
    expect(bad.status).toBe(400)
    const html = await bad.text()
    expect(html).toContain('<form method="post" action="/setup"')
    expect(html).toContain(`value="${token}"`)
    expect(html).toContain('<code>email</code>: must be an email address')
    expect(html).toContain('<code>password</code>: must be at least 12 characters')
    expect(await t.db.select().from(users)).toHaveLength(0)

    const done = await post(t, '/setup', { token, email: 'Root@Example.com', name: 'Root', password: PASSWORD })
    expect(done.status).toBe(303)
    expect(done.headers.get('location')).toBe('/')
    const cookie = done.headers.get('set-cookie')!.match(/hs_session=([^;]+)/)![1]
    const who = await t.app.request('/api/v1/whoami', { headers: { Cookie: `hs_session=${cookie}` } })
    expect(await who.json()).toMatchObject({ kind: 'user', name: 'root@example.com', role: 'admin' })
    expect(await t.db.select().from(setupTokens)).toHaveLength(0)
    const [entry] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'auth.setup'))
    expect(entry).toMatchObject({ target: 'root@example.com', actor: 'user:root@example.com' })

    // used: the page sends people to sign in, a second post creates nothing
    const again = await t.app.request(`/setup?token=${token}`)
    expect(again.status).toBe(302)
    expect(again.headers.get('location')).toBe('/login')
    const second = await post(
      t,
      '/setup',
      { token, email: 'second@example.com', password: PASSWORD },
      { Accept: 'text/html' },
    )
    expect(second.status).toBe(409)
    expect(await t.db.select().from(users)).toHaveLength(1)
    // the token itself is spent: even with no users again, it is refused
    await t.db.delete(users)
    const replay = await post(t, '/setup', { token, email: 'second@example.com', password: PASSWORD })
    expect(replay.status).toBe(410)
    expect(await t.db.select().from(users)).toHaveLength(0)
    expect((await ensureFirstAdmin(t.db, cfg())).kind).toBe('setup_link')
  })

  it('refuses an expired link with 410, and a newer link replaces the older', async () => {
    await t.db.delete(users)
    const old = await ensureFirstAdmin(t.db, cfg(), Date.now() - 2 * 3_600_000)
    const expired = tokenOf((old as { url: string }).url)
    expect((await t.app.request(`/setup?token=${expired}`)).status).toBe(410)
    const res = await post(t, '/setup', { token: expired, email: 'late@example.com', password: PASSWORD })
    expect(res.status).toBe(410)
    expect((await res.json()).error.code).toBe('setup_link_invalid')
    const a = tokenOf(((await ensureFirstAdmin(t.db, cfg())) as { url: string }).url)
    const b = tokenOf(((await ensureFirstAdmin(t.db, cfg())) as { url: string }).url)
    expect((await t.app.request(`/setup?token=${a}`)).status).toBe(410)
    expect((await t.app.request(`/setup?token=${b}`)).status).toBe(200)
    expect(await t.db.select().from(users)).toHaveLength(0)
  })

  it('creates the admin directly from ADMIN_EMAIL/ADMIN_PASSWORD, and then does nothing', async () => {
    await t.db.delete(users)
    await t.db.delete(setupTokens)
    const made = await ensureFirstAdmin(
      t.db,
      cfg({ adminEmail: 'boss@example.com', adminPassword: 'the boss password' }),
    )
    expect(made).toEqual({ kind: 'admin_created', email: 'boss@example.com' })
    expect(await t.db.select().from(setupTokens)).toHaveLength(0)
    const [row] = await t.db.select().from(users)
    expect(row).toMatchObject({ email: 'boss@example.com', role: 'admin' })
    expect((await t.login('boss@example.com', 'the boss password')).res.status).toBe(303)
    expect(
      await ensureFirstAdmin(t.db, cfg({ adminEmail: 'other@example.com', adminPassword: 'the other password' })),
    ).toEqual({ kind: 'ready' })
    expect(await t.db.select().from(users)).toHaveLength(1)
  })
})
