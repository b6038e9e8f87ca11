import { and, eq } from 'drizzle-orm'
import * as OTPAuth from 'otpauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { sessions, users } from '../../db/schema/auth.ts'
import { sha256 } from '../../app/lib/crypto.ts'
import { issueTicket } from '../../app/modules/auth/two-factor.ts'
import { PASSWORD, testApp, type TestApp } from '../helpers/app.ts'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const post = (t: TestApp, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  t.app.request(path, { method: 'POST', body: new URLSearchParams(fields), headers: { ...FORM, ...headers } })
const totp = (secret: string, timestamp = Date.now()) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({
    timestamp,
  })
/** A 6-digit code that is not valid now, nor in the neighbouring periods. */
function wrongCode(secret: string) {
  const valid = new Set([-2, -1, 0, 1, 2].map((n) => totp(secret, Date.now() + n * 30_000)))
  return ['000000', '111111', '222222'].find((c) => !valid.has(c))!
}
const userRow = async (t: TestApp, id: string) => (await t.db.select().from(users).where(eq(users.id, id)))[0]!
const ticketOf = (html: string) => html.match(/name="ticket" value="([^"]+)"/)?.[1]

/** Signs in with the password and turns two-factor on over the API; returns the secret and recovery codes. */
async function enrol(t: TestApp, s: { headers: Record<string, string> }) {
  const setup = await t.json('POST', '/api/v1/me/2fa/setup', {}, s.headers)
  expect(setup.status).toBe(200)
  const { secret } = await setup.json()
  const code = totp(secret)
  const on = await t.json('POST', '/api/v1/me/2fa/enable', { code }, s.headers)
  expect(on.status).toBe(200)
  return { secret: secret as string, code, recoveryCodes: (await on.json()).recoveryCodes as string[] }
}

/** The password step: returns the ticket from the second-step form. */
async function passwordStep(t: TestApp, email: string) {
  const res = await post(t, '/login', { email, password: PASSWORD, next: '/settings/keys' })
  expect(res.status).toBe(200)
  expect(res.headers.get('set-cookie')).toBeNull()
  const html = await res.text()
  expect(html).toContain('action="/login/2fa"')
  return ticketOf(html)!
}

describe('two-factor enrolment and sign-in', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t.close())

  it('enrols: a sealed secret, a wrong code refused, the right code gives recovery codes once', async () => {
    const s = await t.session('operator')
    const setup = await t.json('POST', '/api/v1/me/2fa/setup', {}, s.headers)
    const { secret, uri } = await setup.json()
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(uri).toMatch(/^otpauth:\/\/totp\/Homeostat:.*secret=/)
    expect(uri).toContain(`secret=${secret}`)
    let row = await userRow(t, s.user.id)
    expect(row.totpSecret).toBeTruthy()
    expect(row.totpSecret).not.toContain(secret)
    expect(row.totpEnabledAt).toBeNull()

    const wrong = await t.json('POST', '/api/v1/me/2fa/enable', { code: wrongCode(secret) }, s.headers)
    expect(wrong.status).toBe(400)
    const err = (await wrong.json()).error
    expect(err.code).toBe('invalid_code')
    expect(err.details.map((d: { field: string }) => d.field)).toEqual(['code'])
    expect((await userRow(t, s.user.id)).totpEnabledAt).toBeNull()
    const malformed = await t.json('POST', '/api/v1/me/2fa/enable', { code: '12' }, s.headers)
    expect(malformed.status).toBe(400)

    const on = await t.json('POST', '/api/v1/me/2fa/enable', { code: totp(secret) }, s.headers)
    expect(on.status).toBe(200)
    const { enabled, recoveryCodes } = await on.json()
    expect(enabled).toBe(true)
    expect(recoveryCodes).toHaveLength(10)
    expect(new Set(recoveryCodes).size).toBe(10)
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z0-9]{10}$/)
    row = await userRow(t, s.user.id)
    expect(row.totpEnabledAt).toBeGreaterThan(0)
    expect(row.recoveryCodes).toEqual(recoveryCodes.map(sha256))
    expect((await (await t.app.request('/api/v1/me', { headers: s.headers })).json()).twoFactor).toBe(true)
    const [entry] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'user.2fa_enabled'))
    expect(entry).toMatchObject({ actor: `user:${s.user.email}`, target: s.user.email })
    // no second enrolment over the first
    expect((await t.json('POST', '/api/v1/me/2fa/setup', {}, s.headers)).status).toBe(409)
    expect((await userRow(t, s.user.id)).totpSecret).toBe(row.totpSecret)
  })

  it('signing in then needs a second step: ticket, then code, then a session', async () => {
    const s = await t.session('viewer')
    const { secret } = await enrol(t, s)
    const ticket = await passwordStep(t, s.user.email)
    expect(ticket).toMatch(new RegExp(`^${s.user.id}\\.\\d+\\.`))
    const before = (await t.db.select().from(sessions).where(eq(sessions.userId, s.user.id))).length
    // The enrolment used this period's code, so sign in with the next period's (one step of drift is allowed).
    const code = totp(secret, Date.now() + 30_000)
    const res = await post(t, '/login/2fa', { ticket, code, next: '/settings/keys' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/settings/keys')
    const cookie = res.headers.get('set-cookie')!.match(/hs_session=([^;]+)/)![1]
    expect((await t.app.request('/api/v1/whoami', { headers: { Cookie: `hs_session=${cookie}` } })).status).toBe(200)
    expect(await t.db.select().from(sessions).where(eq(sessions.userId, s.user.id))).toHaveLength(before + 1)
  })

  it('a code works once: the enrolment code and a used sign-in code are refused again (RFC 6238 §5.2)', async () => {
    const s = await t.session('viewer')
    const { secret, code: usedAtEnrolment } = await enrol(t, s)
    const enrolmentCode = await post(t, '/login/2fa', {
      ticket: await passwordStep(t, s.user.email),
      code: usedAtEnrolment,
    })
    expect(enrolmentCode.status).toBe(401)
    const code = totp(secret, Date.now() + 30_000)
    expect((await post(t, '/login/2fa', { ticket: await passwordStep(t, s.user.email), code })).status).toBe(303)
    const replay = await post(t, '/login/2fa', { ticket: await passwordStep(t, s.user.email), code })
    expect(replay.status).toBe(401)
    expect(replay.headers.get('set-cookie')).toBeNull()
  })

  it('a recovery code works once only', async () => {
    const s = await t.session('viewer')
    const { recoveryCodes } = await enrol(t, s)
    const code = recoveryCodes[3]!
    const first = await post(t, '/login/2fa', { ticket: await passwordStep(t, s.user.email), code: code.toUpperCase() })
    expect(first.status).toBe(303)
    expect((await userRow(t, s.user.id)).recoveryCodes).toEqual(recoveryCodes.filter((c) => c !== code).map(sha256))
    const again = await post(t, '/login/2fa', { ticket: await passwordStep(t, s.user.email), code })
    expect(again.status).toBe(401)
    expect(again.headers.get('set-cookie')).toBeNull()
    expect(await again.text()).toContain('That code is not valid')
  })

  it('refuses a tampered, forged or expired ticket', async () => {
    const s = await t.session('viewer')
    const other = await t.user('admin')
    const { secret } = await enrol(t, s)
    const ticket = await passwordStep(t, s.user.email)
    const [, expires, sig] = ticket.split('.')
    const forged = [
      `${other.id}.${expires}.${sig}`, // someone else's id under this signature
      `${s.user.id}.${Number(expires) + 3_600_000}.${sig}`, // a longer life
      `${s.user.id}.${expires}.${sig!.slice(0, -2)}AA`,
      `${s.user.id}.${expires}`,
      issueTicket(t.sealer, s.user.id, Date.now() - 10 * 60_000), // signed, but expired
    ]
    for (const bad of forged) {
      const res = await post(t, '/login/2fa', { ticket: bad, code: totp(secret) })
      expect(res.status, bad).toBe(401)
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(await res.text()).toContain('start again')
    }
  })

  it('turning two-factor off needs the password', async () => {
    const s = await t.session('operator')
    await enrol(t, s)
    const wrong = await t.json('POST', '/api/v1/me/2fa/disable', { password: 'not my password' }, s.headers)
    expect(wrong.status).toBe(400)
    expect((await wrong.json()).error.details).toEqual([{ field: 'password', message: 'does not match' }])
    expect((await userRow(t, s.user.id)).totpEnabledAt).not.toBeNull()
    const off = await t.json('POST', '/api/v1/me/2fa/disable', { password: PASSWORD }, s.headers)
    expect(off.status).toBe(200)
    expect(await off.json()).toEqual({ enabled: false })
    expect(await userRow(t, s.user.id)).toMatchObject({ totpSecret: null, totpEnabledAt: null, recoveryCodes: null })
    expect((await post(t, '/login', { email: s.user.email, password: PASSWORD })).status).toBe(303)
    const [entry] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'user.2fa_disabled'), eq(auditLog.target, s.user.email)))
    expect(entry!.actor).toBe(`user:${s.user.email}`)
  })

  it('works through the dashboard security page too', async () => {
    const s = await t.session('viewer')
    const hx = { ...s.headers, 'HX-Request': 'true' }
    const page = await t.app.request('/settings/security', { headers: s.headers })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('hx-post="/settings/security/2fa/setup"')
    const setup = await t.app.request('/settings/security/2fa/setup', { method: 'POST', headers: hx })
    expect(setup.status).toBe(200)
    const secret = (await setup.text()).match(/id="totp-secret">([A-Z2-7]+)</)![1]!
    const bad = await post(t, '/settings/security/2fa/enable', { code: wrongCode(secret) }, hx)
    expect(bad.status).toBe(400)
    const on = await post(t, '/settings/security/2fa/enable', { code: totp(secret) }, hx)
    expect(on.status).toBe(200)
    expect((await on.text()).match(/<li><code>[a-z0-9]{10}<\/code><\/li>/g)).toHaveLength(10)
    const off = await post(t, '/settings/security/2fa/disable', { password: PASSWORD }, hx)
    expect(off.status).toBe(200)
    expect((await userRow(t, s.user.id)).totpEnabledAt).toBeNull()
  })
})

describe('wrong codes count toward lock-out', () => {
  it('locks the account after LOGIN_MAX_FAILURES bad codes, even for a right code or password', async () => {
    const t = await testApp({ LOGIN_MAX_FAILURES: '3' })
    try {
      const s = await t.session('viewer')
      const { secret } = await enrol(t, s)
      const ticket = await passwordStep(t, s.user.email)
      const statuses = []
      for (let i = 0; i < 3; i++) {
        const res = await post(t, '/login/2fa', { ticket, code: wrongCode(secret) })
        statuses.push(res.status)
        if (i < 2) expect(ticketOf(await res.text())).toBe(ticket) // the form comes back to try again
      }
      expect(statuses).toEqual([401, 401, 429])
      expect((await userRow(t, s.user.id)).failedLogins).toBe(3)
      const right = await post(t, '/login/2fa', { ticket, code: totp(secret) })
      expect(right.status).toBe(429)
      expect(right.headers.get('set-cookie')).toBeNull()
      expect((await post(t, '/login', { email: s.user.email, password: PASSWORD })).status).toBe(429)
      const failures = await t.db.select().from(auditLog).where(eq(auditLog.action, 'auth.2fa_failed'))
      expect(failures).toHaveLength(3)
      expect(failures.every((f) => f.target === s.user.email)).toBe(true)
    } finally {
      t.close()
    }
  })
})

describe('REQUIRE_ADMIN_2FA', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp({ REQUIRE_ADMIN_2FA: 'true' })
  })
  afterAll(() => t.close())

  it('an admin without two-factor may only enrol; pages send them to /settings/security', async () => {
    const admin = await t.session('admin')
    const users = await t.app.request('/api/v1/users', { headers: admin.headers })
    expect(users.status).toBe(403)
    expect((await users.json()).error.code).toBe('two_factor_required')
    expect((await t.app.request('/api/v1/whoami', { headers: admin.headers })).status).toBe(200)
    expect((await t.app.request('/api/v1/me', { headers: admin.headers })).status).toBe(200)
    const page = await t.app.request('/settings/users', { headers: { ...admin.headers, Accept: 'text/html' } })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe('/settings/security')
    const security = await t.app.request('/settings/security', { headers: { ...admin.headers, Accept: 'text/html' } })
    expect(security.status).toBe(200)
    expect(await security.text()).toContain('Admins must turn on two-factor sign-in')
    await enrol(t, admin)
    expect((await t.app.request('/api/v1/users', { headers: admin.headers })).status).toBe(200)
    // and may not turn it off again
    const off = await t.json('POST', '/api/v1/me/2fa/disable', { password: PASSWORD }, admin.headers)
    expect(off.status).toBe(409)
    expect((await userRow(t, admin.user.id)).totpEnabledAt).not.toBeNull()
  })

  it('an admin can enrol from the dashboard security page', async () => {
    const admin = await t.session('admin')
    const hx = { ...admin.headers, 'HX-Request': 'true' }
    const setup = await t.app.request('/settings/security/2fa/setup', { method: 'POST', headers: hx })
    expect(setup.status).toBe(200)
    const secret = (await setup.text()).match(/id="totp-secret">([A-Z2-7]+)</)![1]!
    const on = await post(t, '/settings/security/2fa/enable', { code: totp(secret) }, hx)
    expect(on.status).toBe(200)
    expect((await t.app.request('/settings/users', { headers: admin.headers })).status).toBe(200)
  })

  it('does not apply to other roles or to API keys', async () => {
    const operator = await t.session('operator')
    expect((await t.app.request('/api/v1/jobs', { headers: operator.headers })).status).toBe(200)
    const { headers } = await t.key('admin')
    expect((await t.app.request('/api/v1/users', { headers })).status).toBe(200)
  })
})
