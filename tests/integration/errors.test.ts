import { execFileSync } from 'node:child_process'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRoot } from '../../app/root.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { openDb } from '../../db/client.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type ErrorBody = {
  error: { code: string; message: string; details: { field: string; message: string }[] | null; requestId: string }
}
const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error
const fieldsOf = (e: ErrorBody['error']) => (e.details ?? []).map((d) => d.field)
const newUser = (email: string) => ({ email, role: 'viewer', password: 'a long enough password' })

let t: TestApp
let admin: Record<string, string>
beforeAll(async () => {
  t = await testApp()
  admin = (await t.key('admin')).headers
})
afterAll(() => t.close())

describe('the error shape', () => {
  it('unknown API routes are 404 in the one shape, with the request id in body and header', async () => {
    const res = await t.app.request('/api/v1/nothing-here', { headers: admin })
    expect(res.status).toBe(404)
    const e = await errorOf(res)
    expect(e).toEqual({
      code: 'not_found',
      message: expect.stringContaining('/api/v1/nothing-here'),
      details: null,
      requestId: expect.any(String),
    })
    expect(res.headers.get('x-request-id')).toBe(e.requestId)
  })

  it('keeps a sane X-Request-Id from the caller and replaces one that is not', async () => {
    const kept = await t.app.request('/api/v1/nope', { headers: { 'X-Request-Id': 'trace-123.abc' } })
    expect((await errorOf(kept)).requestId).toBe('trace-123.abc')
    const replaced = await t.app.request('/api/v1/nope', { headers: { 'X-Request-Id': 'bad id <script>' } })
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9A-Z]{26}$/)
  })

  it('unknown pages asked for as HTML are a 404 page', async () => {
    const res = await t.app.request('/no-such-page', { headers: { ...admin, Accept: 'text/html' } })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(await res.text()).toContain('No route for GET /no-such-page')
  })
})

describe('each status', () => {
  it('400 names each bad field of the body', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/users',
      { email: 'not-an-email', role: 'king', password: 'short', extra: 1 },
      admin,
    )
    expect(res.status).toBe(400)
    const e = await errorOf(res)
    expect(e.code).toBe('invalid_input')
    expect(fieldsOf(e).sort()).toEqual(['email', 'extra', 'password', 'role'])
    expect(e.details!.find((d) => d.field === 'role')!.message).toMatch(/viewer, operator, admin/)
  })

  it('400 names a bad query parameter', async () => {
    const res = await t.app.request('/api/v1/audit?limit=100000&from=yesterday', { headers: admin })
    expect(res.status).toBe(400)
    expect(fieldsOf(await errorOf(res)).sort()).toEqual(['from', 'limit'])
  })

  it('400 for a body that is not JSON', async () => {
    const res = await t.app.request('/api/v1/users', {
      method: 'POST',
      body: '{"email":',
      headers: { ...admin, 'Content-Type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect((await errorOf(res)).code).toBe('invalid_json')
  })

  it('401 without credentials and with a key that is not one', async () => {
    const none = await t.app.request('/api/v1/whoami')
    expect(none.status).toBe(401)
    expect((await errorOf(none)).code).toBe('unauthorized')
    const bad = await t.app.request('/api/v1/whoami', { headers: { Authorization: 'Bearer hs_deadbeef_notakey' } })
    expect(bad.status).toBe(401)
    expect((await errorOf(bad)).code).toBe('key_invalid')
  })

  it('403 for a role that is too low', async () => {
    const { headers } = await t.key('viewer')
    const res = await t.json('POST', '/api/v1/keys', { name: 'x', role: 'admin' }, headers)
    expect(res.status).toBe(403)
    const e = await errorOf(res)
    expect(e.code).toBe('forbidden')
    expect(e.message).toMatch(/admin/)
  })

  it('405 with Allow for a known path and another method', async () => {
    const res = await t.app.request('/health', { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD'])
    expect((await errorOf(res)).code).toBe('method_not_allowed')
    const users = await t.app.request('/api/v1/users', { method: 'PUT', headers: admin })
    expect(users.status).toBe(405)
    expect(users.headers.get('allow')).toContain('POST')
  })

  it('409 for a user that already exists', async () => {
    expect((await t.json('POST', '/api/v1/users', newUser('twice@example.com'), admin)).status).toBe(201)
    const res = await t.json('POST', '/api/v1/users', newUser('TWICE@example.com'), admin)
    expect(res.status).toBe(409)
    expect((await errorOf(res)).code).toBe('conflict')
  })

  it('413 for a body over BODY_LIMIT_BYTES, declared or streamed', async () => {
    const small = await testApp({ BODY_LIMIT_BYTES: '1024' })
    try {
      const { headers } = await small.key('admin')
      const body = JSON.stringify({ ...newUser('big@example.com'), name: 'n'.repeat(2000) })
      const declared = await small.app.request('/api/v1/users', {
        method: 'POST',
        body,
        headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(body.length) },
      })
      expect(declared.status).toBe(413)
      const e = await errorOf(declared)
      expect(e.code).toBe('payload_too_large')
      expect(e.message).toContain('1024')
      const streamed = await small.app.request('/api/v1/users', {
        method: 'POST',
        body: new Blob([body]).stream(),
        headers: { ...headers, 'Content-Type': 'application/json' },
        duplex: 'half',
      } as RequestInit)
      expect(streamed.status).toBe(413)
      expect(
        (await small.client.execute("select count(*) as n from users where email = 'big@example.com'")).rows[0]?.n,
      ).toBe(0)
    } finally {
      small.close()
    }
  })

  it('415 for a body that is not JSON where JSON is expected', async () => {
    const res = await t.app.request('/api/v1/users', {
      method: 'POST',
      body: JSON.stringify(newUser('plain@example.com')),
      headers: { ...admin, 'Content-Type': 'text/plain' },
    })
    expect(res.status).toBe(415)
    const e = await errorOf(res)
    expect(e.code).toBe('unsupported_media_type')
    expect(e.details).toEqual([{ field: 'Content-Type', message: 'text/plain is not accepted' }])
  })
})

describe('429 rate limits', () => {
  it('per API key, with Retry-After; other keys are unaffected', async () => {
    const limited = await testApp({ RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_SECOND: '1' })
    try {
      const a = await limited.key('viewer')
      const b = await limited.key('viewer')
      const statuses = []
      for (let i = 0; i < 3; i++)
        statuses.push((await limited.app.request('/api/v1/whoami', { headers: a.headers })).status)
      expect(statuses).toEqual([200, 200, 429])
      const res = await limited.app.request('/api/v1/whoami', { headers: a.headers })
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect((await errorOf(res)).code).toBe('rate_limited')
      expect((await limited.app.request('/api/v1/whoami', { headers: b.headers })).status).toBe(200)
    } finally {
      limited.close()
    }
  })

  it('per client IP from X-Forwarded-For when TRUST_PROXY is on; probes are exempt', async () => {
    const limited = await testApp({ IP_RATE_LIMIT_BURST: '2', IP_RATE_LIMIT_PER_SECOND: '1', TRUST_PROXY: 'true' })
    try {
      // The client may forge the left-most entry; the trusted proxy appended the address it saw (right-most).
      const from = (ip: string) => ({ 'X-Forwarded-For': `203.0.113.77, ${ip}` })
      const statuses = []
      for (let i = 0; i < 3; i++)
        statuses.push((await limited.app.request('/api/v1/whoami', { headers: from('203.0.113.7') })).status)
      expect(statuses).toEqual([401, 401, 429])
      const res = await limited.app.request('/api/v1/whoami', { headers: from('203.0.113.7') })
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect((await limited.app.request('/api/v1/whoami', { headers: from('203.0.113.8') })).status).toBe(401)
      expect((await limited.app.request('/health', { headers: from('203.0.113.7') })).status).toBe(200)
    } finally {
      limited.close()
    }
  })

  it('ignores X-Forwarded-For when TRUST_PROXY is off', async () => {
    const limited = await testApp({ IP_RATE_LIMIT_BURST: '2', IP_RATE_LIMIT_PER_SECOND: '1' })
    try {
      const statuses = []
      for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3'])
        statuses.push((await limited.app.request('/api/v1/whoami', { headers: { 'X-Forwarded-For': ip } })).status)
      expect(statuses).toEqual([401, 401, 429])
    } finally {
      limited.close()
    }
  })
})

describe('HTMX callers', () => {
  it('get errors as a fragment retargeted to #flash, naming the bad fields', async () => {
    const s = await t.session('admin')
    const res = await t.app.request('/settings/users', {
      method: 'POST',
      body: new URLSearchParams({ email: 'nope', role: 'viewer', password: 'short' }),
      headers: { ...s.headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('hx-retarget')).toBe('#flash')
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    const html = await res.text()
    expect(html).not.toContain('<html')
    expect(html).toContain('<code>email</code>')
    expect(html).toContain('<code>password</code>')
  })

  it('are sent to the sign-in page with HX-Redirect when not signed in', async () => {
    const res = await t.app.request('/settings/users', {
      headers: { 'HX-Request': 'true', 'HX-Current-URL': 'http://localhost/settings/keys' },
    })
    expect(res.headers.get('hx-redirect')).toBe('/login?next=%2Fsettings%2Fkeys')
  })
})

describe('failures on our side', () => {
  it('500 says nothing about the internals when the database is gone', async () => {
    const broken = await testApp()
    try {
      const { headers } = await broken.key('admin')
      broken.client.close()
      const res = await broken.app.request('/api/v1/users', { headers })
      expect([500, 503]).toContain(res.status)
      const text = await res.text()
      const e = (JSON.parse(text) as ErrorBody).error
      expect(e.requestId).toBe(res.headers.get('x-request-id'))
      expect(text).not.toMatch(/sqlite|libsql|client is closed|select |users|\.ts:|at [\w.]+ \(/i)
    } finally {
      broken.close()
    }
  })

  it('a read-only database file answers writes with 503 and writes nothing', async () => {
    const file = join(t.dir, 'test.db')
    // Root ignores file modes, so as root the file is made immutable instead (chattr +i, which the
    // kernel enforces for root too). Either way, opening it for writing fails and SQLite opens it
    // read-only, as the server would at start-up; writes then fail with SQLITE_READONLY.
    const asRoot = process.getuid?.() === 0
    if (asRoot) execFileSync('chattr', ['+i', file])
    else chmodSync(file, 0o444)
    try {
      const ro = await openDb({ url: `file:${file}` })
      try {
        const { app } = createRoot({
          config: t.config,
          db: ro.db,
          log: createLogger('silent'),
          sealer: t.sealer,
          telemetry: t.telemetry,
        })
        const res = await app.request('/api/v1/users', {
          method: 'POST',
          body: JSON.stringify(newUser('readonly@example.com')),
          headers: { ...admin, 'Content-Type': 'application/json' },
        })
        expect(res.status).toBe(503)
        expect(res.headers.get('retry-after')).toBe('5')
        const e = await errorOf(res)
        expect(e.code).toBe('database_unavailable')
        expect(JSON.stringify(e)).not.toMatch(/SQLITE|readonly/i)
        expect((await app.request('/api/v1/users', { headers: admin })).status).toBe(200) // reads still work
      } finally {
        ro.client.close()
      }
    } finally {
      if (asRoot) execFileSync('chattr', ['-i', file])
      else chmodSync(file, 0o644)
    }
    expect(
      (await t.client.execute("select count(*) as n from users where email = 'readonly@example.com'")).rows[0]?.n,
    ).toBe(0)
    expect(
      (await t.client.execute("select count(*) as n from audit_log where target = 'readonly@example.com'")).rows[0]?.n,
    ).toBe(0)
  })

  it('a database locked by another writer answers with 503 after the busy timeout and writes nothing', async () => {
    const holder = createClient({ url: `file:${join(t.dir, 'test.db')}` })
    const tx = await holder.transaction('write') // BEGIN IMMEDIATE: holds the write lock
    try {
      await tx.execute("insert into settings (key, value, updated_at) values ('lock-holder', '1', 0)")
      const res = await t.json('POST', '/api/v1/users', newUser('locked@example.com'), admin)
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('5')
      expect((await errorOf(res)).code).toBe('database_unavailable')
    } finally {
      await tx.rollback()
      holder.close()
    }
    expect(
      (await t.client.execute("select count(*) as n from users where email = 'locked@example.com'")).rows[0]?.n,
    ).toBe(0)
    expect((await t.json('POST', '/api/v1/users', newUser('locked@example.com'), admin)).status).toBe(201)
  })
})
