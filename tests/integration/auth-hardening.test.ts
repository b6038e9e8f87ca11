import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import * as OTPAuth from 'otpauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { sessions, users } from '../../db/schema/auth.ts'
import { createUser } from '../../app/modules/auth/users.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { upgradeSealedSecrets } from '../../app/secrets-upgrade.ts'
import { PASSWORD, testApp, type TestApp } from '../helpers/app.ts'

// Issue 16, "Secrets stay secret": the auth and audit items. Each test here failed on the code before it.

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const post = (t: TestApp, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  t.app.request(path, { method: 'POST', body: new URLSearchParams(fields), headers: { ...FORM, ...headers } })
const userRow = async (t: TestApp, id: string) => (await t.db.select().from(users).where(eq(users.id, id)))[0]!
const totp = (secret: string) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate()
const ticketOf = (html: string) => html.match(/name="ticket" value="([^"]+)"/)?.[1]
const HOUR = 3_600_000
const silent = createLogger('silent')

async function enrol(t: TestApp, headers: Record<string, string>) {
  const { secret } = await (await t.json('POST', '/api/v1/me/2fa/setup', {}, headers)).json()
  const on = await t.json('POST', '/api/v1/me/2fa/enable', { code: totp(secret) }, headers)
  expect(on.status).toBe(200)
  return { secret: secret as string, recoveryCodes: (await on.json()).recoveryCodes as string[] }
}

async function passwordStep(t: TestApp, email: string) {
  const res = await post(t, '/login', { email, password: PASSWORD })
  expect(res.status).toBe(200)
  return ticketOf(await res.text())!
}

describe('password hashes: scrypt N = 2^17, older hashes upgraded at sign-in', () => {
  it('production cost is 2^17; a hash with the old parameters (2^15) signs in and is re-hashed at 2^17', async () => {
    // The production default, not the tests' cheap one.
    const t = await testApp({ PASSWORD_HASH_COST: '17' })
    try {
      expect(t.config.PASSWORD_HASH_COST).toBe(17)
      const u = await createUser(t.db, {
        email: 'old@example.com',
        role: 'viewer',
        password: PASSWORD,
        passwordCost: 15,
      })
      expect(u.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/)
      const wrong = await post(t, '/login', { email: u.email, password: 'not the password' })
      expect(wrong.status).toBe(401)
      expect((await userRow(t, u.id)).passwordHash).toBe(u.passwordHash) // a wrong password upgrades nothing
      const res = await post(t, '/login', { email: u.email, password: PASSWORD })
      expect(res.status).toBe(303)
      const upgraded = (await userRow(t, u.id)).passwordHash
      expect(upgraded).toMatch(/^scrypt\$131072\$8\$1\$/)
      expect((await post(t, '/login', { email: u.email, password: PASSWORD })).status).toBe(303)
      expect((await userRow(t, u.id)).passwordHash).toBe(upgraded) // already current: not hashed again
    } finally {
      t.close()
    }
  }, 60_000)
})

describe('two-factor secret: sealed with the derived key, bound to its row (AAD)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t.close())

  it('is stored as v2 and opens only with its own row and field', async () => {
    const s = await t.session('viewer')
    const { secret } = await enrol(t, s.headers)
    const sealed = (await userRow(t, s.user.id)).totpSecret!
    expect(sealed).toMatch(/^v2\./)
    expect(t.sealer.open(sealed, `users:${s.user.id}:totp_secret`)).toBe(secret)
    expect(() => t.sealer.open(sealed, `users:someone-else:totp_secret`)).toThrow()
    expect(() => t.sealer.openUnbound(sealed)).toThrow()
  })

  it('a secret sealed the old way (v1) is sealed again, bound, by the upgrade at boot, and still works', async () => {
    const s = await t.session('viewer')
    const { secret } = await enrol(t, s.headers)
    // Written exactly as before: AES-256-GCM under sha256("homeostat:seal:" + SECRET_KEY), no AAD.
    const oldKey = createHash('sha256').update('homeostat:seal:test-secret-key-that-is-long-enough-123').digest()
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', oldKey, iv)
    const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
    const v1 = ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')]
    await t.db
      .update(users)
      .set({ totpSecret: v1.join('.'), totpLastStep: null })
      .where(eq(users.id, s.user.id))
    await upgradeSealedSecrets(t.db, t.sealer, silent)
    const res = await post(t, '/login/2fa', { ticket: await passwordStep(t, s.user.email), code: totp(secret) })
    expect(res.status).toBe(303)
    const resealed = (await userRow(t, s.user.id)).totpSecret!
    expect(resealed).toMatch(/^v2\./)
    expect(t.sealer.open(resealed, `users:${s.user.id}:totp_secret`)).toBe(secret)
  })
})

describe('password change and two-factor off count failures like sign-in', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp({ LOGIN_MAX_FAILURES: '3' })
  })
  afterAll(() => t.close())

  it('wrong current passwords lock the account at LOGIN_MAX_FAILURES; then even the right one is refused', async () => {
    const s = await t.session('viewer')
    const statuses = []
    for (let i = 0; i < 3; i++) {
      const res = await t.json(
        'POST',
        '/api/v1/me/password',
        { currentPassword: `wrong password ${i}`, newPassword: 'a brand new password 123' },
        s.headers,
      )
      statuses.push(res.status)
    }
    expect(statuses).toEqual([400, 400, 429])
    expect((await userRow(t, s.user.id)).failedLogins).toBe(3)
    const right = await t.json(
      'POST',
      '/api/v1/me/password',
      { currentPassword: PASSWORD, newPassword: 'a brand new password 123' },
      s.headers,
    )
    expect(right.status).toBe(429)
    expect((await right.json()).error.code).toBe('account_locked')
    expect((await post(t, '/login', { email: s.user.email, password: PASSWORD })).status).toBe(429)
  })

  it('wrong passwords to turn two-factor off count the same way, on the API and the page', async () => {
    const s = await t.session('operator')
    await enrol(t, s.headers)
    const api = await t.json('POST', '/api/v1/me/2fa/disable', { password: 'wrong one' }, s.headers)
    expect(api.status).toBe(400)
    const hx = { ...s.headers, 'HX-Request': 'true' }
    expect((await post(t, '/settings/security/2fa/disable', { password: 'wrong two' }, hx)).status).toBe(400)
    expect((await post(t, '/settings/security/2fa/disable', { password: 'wrong three' }, hx)).status).toBe(429)
    const right = await t.json('POST', '/api/v1/me/2fa/disable', { password: PASSWORD }, s.headers)
    expect(right.status).toBe(429)
    expect((await userRow(t, s.user.id)).totpEnabledAt).not.toBeNull()
  })
})

describe('a recovery code is spent atomically', () => {
  it('two concurrent sign-ins with the same code: exactly one gets a session', async () => {
    const t = await testApp()
    try {
      const s = await t.session('viewer')
      const { recoveryCodes } = await enrol(t, s.headers)
      const code = recoveryCodes[0]!
      const tickets = [await passwordStep(t, s.user.email), await passwordStep(t, s.user.email)]
      const results = await Promise.all(tickets.map((ticket) => post(t, '/login/2fa', { ticket, code })))
      expect(results.map((r) => r.status).sort()).toEqual([303, 401])
      expect(results.filter((r) => r.headers.get('set-cookie')?.includes('hs_session='))).toHaveLength(1)
      expect((await userRow(t, s.user.id)).recoveryCodes).toHaveLength(9)
    } finally {
      t.close()
    }
  })
})

describe('sessions have an absolute lifetime (SESSION_MAX_HOURS)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t.close())

  it('defaults to 720 hours; a session older than that is refused even while in use', async () => {
    expect(t.config.SESSION_MAX_HOURS).toBe(720)
    const s = await t.session('viewer')
    const now = Date.now()
    // Kept busy all along: its sliding expiry is still an hour away, but it began 721 hours ago.
    await t.db
      .update(sessions)
      .set({ createdAt: now - 721 * HOUR, lastSeenAt: now - 60_000, expiresAt: now + HOUR })
      .where(eq(sessions.userId, s.user.id))
    const res = await t.app.request('/api/v1/me', { headers: s.headers })
    expect(res.status).toBe(401)
    expect((await res.json()).error.code).toBe('session_expired')
    expect(await t.db.select().from(sessions).where(eq(sessions.userId, s.user.id))).toHaveLength(0)
  })

  it('sliding renewal never extends a session past its maximum', async () => {
    const s = await t.session('viewer')
    const now = Date.now()
    const createdAt = now - 718 * HOUR // two hours left of the 720
    await t.db
      .update(sessions)
      .set({ createdAt, expiresAt: now + HOUR }) // under half the 12 h TTL left: renewal is due
      .where(eq(sessions.userId, s.user.id))
    const res = await t.app.request('/api/v1/me', { headers: s.headers })
    expect(res.status).toBe(200)
    const [row] = await t.db.select().from(sessions).where(eq(sessions.userId, s.user.id))
    expect(row!.expiresAt).toBeLessThanOrEqual(createdAt + 720 * HOUR)
    expect(row!.expiresAt).toBeGreaterThan(now + HOUR) // still extended, up to the maximum
    const cookie = res.headers.get('set-cookie') ?? ''
    const expires = Date.parse(cookie.match(/Expires=([^;]+)/i)?.[1] ?? '')
    expect(expires).toBeLessThanOrEqual(createdAt + 720 * HOUR)
  })
})

describe('audit log: retention and who sees it', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp({ AUDIT_RETENTION_DAYS: '30' })
  })
  afterAll(() => t.close())

  it('the housekeeping job deletes rows older than AUDIT_RETENTION_DAYS (default 365)', async () => {
    expect((await testApp().then((x) => (x.close(), x.config))).AUDIT_RETENTION_DAYS).toBe(365)
    const now = Date.now()
    const day = 24 * HOUR
    await t.db.insert(auditLog).values([
      { ts: now - 31 * day, actor: 'system', action: 'test.old', summary: '' },
      { ts: now - 29 * day, actor: 'system', action: 'test.recent', summary: '' },
    ])
    expect(await t.scheduler.runTick('housekeeping', now)).toBe('ran')
    const actions = (await t.db.select().from(auditLog)).map((r) => r.action)
    expect(actions).toContain('test.recent')
    expect(actions).not.toContain('test.old')
  })

  it('Settings → System shows recent changes to admins only', async () => {
    await t.db.insert(auditLog).values({ ts: Date.now(), actor: 'user:x@example.com', action: 'key.created' })
    for (const role of ['viewer', 'operator'] as const) {
      const s = await t.session(role)
      const html = await (await t.app.request('/settings/system', { headers: s.headers })).text()
      expect(html).toContain('<h1>System</h1>')
      expect(html, role).not.toContain('Recent changes')
      expect(html, role).not.toContain('key.created')
    }
    const admin = await t.session('admin')
    const html = await (await t.app.request('/settings/system', { headers: admin.headers })).text()
    expect(html).toContain('Recent changes')
    expect(html).toContain('key.created')
  })
})
