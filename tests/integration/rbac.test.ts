import { afterAll, describe, expect, it } from 'vitest'
import type { Principal } from '../../app/context.ts'
import { routeTable, type Access, type RouteInfo } from '../../app/lib/route-meta.ts'
import { allows } from '../../app/middleware/access.ts'
import { createSession } from '../../app/modules/auth/sessions.ts'
import type { Role } from '../../db/schema/auth.ts'
import { testApp } from '../helpers/app.ts'

// The real app, built before the tests are collected so that every route becomes its own test.
const t = await testApp()
afterAll(() => t.close())
const routes = routeTable(t.app)

type CallerName =
  | 'anonymous'
  | 'viewer session'
  | 'viewer key'
  | 'operator key'
  | 'admin key'
  | 'ingest key'
  | 'admin ingest key'
  | 'breakers key'
  | 'routes key'
type Caller = { name: CallerName; role: Role | null; scopes: string[]; kind: 'session' | 'key' | null }

const callers: Caller[] = [
  { name: 'anonymous', role: null, scopes: [], kind: null },
  { name: 'viewer session', role: 'viewer', scopes: [], kind: 'session' },
  { name: 'viewer key', role: 'viewer', scopes: [], kind: 'key' },
  { name: 'operator key', role: 'operator', scopes: [], kind: 'key' },
  { name: 'admin key', role: 'admin', scopes: [], kind: 'key' },
  { name: 'ingest key', role: 'operator', scopes: ['ingest'], kind: 'key' },
  // A scope limits a key whatever its role: an admin's ingest key is still only an ingest key.
  { name: 'admin ingest key', role: 'admin', scopes: ['ingest'], kind: 'key' },
  { name: 'breakers key', role: 'viewer', scopes: ['breakers'], kind: 'key' },
  { name: 'routes key', role: 'viewer', scopes: ['routes'], kind: 'key' },
]
const scoped: CallerName[] = ['ingest key', 'admin ingest key', 'breakers key', 'routes key']

/**
 * Who may call what, written out by hand (not computed), so the walk below checks `allows()` and
 * the routes against an independent statement of the rules.
 */
const expected: Record<Access, CallerName[]> = {
  public: ['anonymous', 'viewer session', 'viewer key', 'operator key', 'admin key', ...scoped],
  authenticated: ['viewer session', 'viewer key', 'operator key', 'admin key', ...scoped],
  ingest: ['operator key', 'admin key', 'ingest key', 'admin ingest key'],
  breakers: ['operator key', 'admin key', 'breakers key'],
  routes: ['viewer session', 'viewer key', 'operator key', 'admin key', 'routes key'],
  viewer: ['viewer session', 'viewer key', 'operator key', 'admin key'],
  operator: ['operator key', 'admin key'],
  admin: ['admin key'],
}
const levels = Object.keys(expected) as Access[]

const principalOf = (c: Caller): Principal => ({
  kind: c.kind ?? 'key',
  id: c.name,
  name: c.name,
  role: c.role!,
  scopes: c.scopes,
})

// Credentials: one key per caller; sessions are made fresh for each unsafe request, because some
// routes (sign-out, password change) end the session they ride on.
const keyHeaders = new Map<CallerName, Record<string, string>>()
for (const c of callers) if (c.kind === 'key') keyHeaders.set(c.name, (await t.key(c.role!, c.scopes)).headers)
const viewer = await t.user('viewer')
async function sessionHeaders() {
  const s = await createSession(t.db, { userId: viewer.id, ttlMs: 3_600_000 })
  return { Cookie: `hs_session=${s.token}`, 'X-CSRF-Token': s.csrfToken }
}
const readSession = await sessionHeaders()

async function headersFor(c: Caller, unsafe: boolean): Promise<Record<string, string>> {
  if (c.kind === 'key') return keyHeaders.get(c.name)!
  if (c.kind === 'session') return unsafe ? sessionHeaders() : readSession
  return {}
}

const MACHINE = new Set(['/health', '/ready', '/metrics'])
const isPage = (path: string) => !path.startsWith('/api/') && !MACHINE.has(path) && !path.startsWith('/static/')

/**
 * A concrete URL for a route pattern. Parameters get dummy values: access is decided before any
 * lookup, so an allowed caller gets a 404 or 400, never a 401/403, for a thing that does not exist.
 */
function concretePath(r: RouteInfo): string {
  if (r.path === '/static/*') return '/static/app.css'
  return r.path.replace(/:(\w+)(\{[^}]*\})?/g, (_m, name: string) => `no-such-${name}`).replace(/\*/g, 'no-such-path')
}

function bodyFor(r: RouteInfo): { body?: string; type?: string } {
  if (r.inputs.some((i) => i.target === 'json')) return { body: '{}', type: 'application/json' }
  if (r.inputs.some((i) => i.target === 'form')) return { body: '', type: 'application/x-www-form-urlencoded' }
  return {}
}

async function call(r: RouteInfo, c: Caller) {
  const unsafe = !['GET', 'HEAD'].includes(r.method)
  const { body, type } = bodyFor(r)
  const headers: Record<string, string> = { ...(await headersFor(c, unsafe)) }
  if (type) headers['Content-Type'] = type
  if (isPage(r.path)) headers.Accept = 'text/html'
  return t.app.request(concretePath(r), { method: r.method, headers, ...(body !== undefined ? { body } : {}) })
}

describe('the access rules', () => {
  it('every route declares its access level (nothing is admin-only by accident)', () => {
    expect(routes.length).toBeGreaterThan(20)
    expect(routes.filter((r) => r.access === undefined).map((r) => `${r.method} ${r.path}`)).toEqual([])
    expect(routes.filter((r) => !levels.includes(r.access!)).map((r) => `${r.method} ${r.path} ${r.access}`)).toEqual(
      [],
    )
  })

  it('allows() agrees with the table of who may call what', () => {
    const wrong: string[] = []
    for (const level of levels) {
      for (const c of callers) {
        if (!c.role) continue
        if (allows(principalOf(c), level) !== expected[level].includes(c.name)) wrong.push(`${c.name} on ${level}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('scoped keys reach no route by `authenticated` but whoami and sign-out', () => {
    // `authenticated` lets every scoped key in; a new route must not get it by default.
    expect(routes.filter((r) => r.access === 'authenticated').map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v1/whoami',
      'POST /logout',
    ])
  })

  it('every route has a concrete URL for the walk', () => {
    const urls = routes.map((r) => concretePath(r))
    expect(urls.filter((u) => /[:*]/.test(u))).toEqual([])
    expect(urls).toContain('/api/v1/users/no-such-id')
  })
})

describe.each(routes.map((r) => [`${r.method} ${r.path} (${r.access})`, r] as const))('%s', (_name, route) => {
  it('answers each caller as its access level says', async () => {
    const level = route.access ?? 'admin'
    const wrong: string[] = []
    for (const c of callers) {
      const res = await call(route, c)
      const s = res.status
      const allowed = expected[level].includes(c.name)
      if (level === 'public' || allowed) {
        if (s === 401 || s === 403) wrong.push(`${c.name}: expected to pass auth, got ${s}`)
        if (s >= 500) wrong.push(`${c.name}: ${s} ${await res.text()}`)
        if (c.role && allowed !== allows(principalOf(c), level)) wrong.push(`${c.name}: allows() disagrees`)
      } else if (!c.role) {
        if (isPage(route.path)) {
          const to = res.headers.get('location') ?? ''
          if (s !== 302 || !to.startsWith('/login?next='))
            wrong.push(`${c.name}: expected 302 to /login, got ${s} ${to}`)
        } else {
          const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null
          if (s !== 401 || body?.error?.code !== 'unauthorized')
            wrong.push(`${c.name}: expected 401 JSON, got ${s} ${JSON.stringify(body)}`)
        }
      } else {
        if (s !== 403) wrong.push(`${c.name}: expected 403, got ${s}`)
        if (allows(principalOf(c), level)) wrong.push(`${c.name}: allows() lets it through but the route refused`)
      }
    }
    expect(wrong).toEqual([])
  })
})

describe('refusals', () => {
  it('a forbidden call is recorded in the audit log', async () => {
    const res = await t.app.request('/api/v1/users', { headers: keyHeaders.get('viewer key')! })
    expect(res.status).toBe(403)
    const rows = await t.client.execute({
      sql: "select actor, target from audit_log where action = 'auth.forbidden' and request_id = ?",
      args: [res.headers.get('x-request-id')],
    })
    expect(rows.rows).toHaveLength(1)
    expect(rows.rows[0]).toMatchObject({ target: 'GET /api/v1/users' })
  })

  it('an ingest key cannot read model routes nor report breaker outcomes; a breakers key can', async () => {
    await t.json(
      'POST',
      '/api/v1/model-routes',
      { name: 'chat', targets: [{ host: 'http://127.0.0.1:1', model: 'm' }] },
      keyHeaders.get('admin key')!,
    )
    const ingest = keyHeaders.get('ingest key')!
    expect((await t.app.request('/api/v1/model-routes/chat', { headers: ingest })).status).toBe(403)
    expect((await t.json('POST', '/api/v1/healing/breakers/agent%3Ax/report', { ok: false }, ingest)).status).toBe(403)
    const routesKey = keyHeaders.get('routes key')!
    expect((await t.app.request('/api/v1/model-routes/chat', { headers: routesKey })).status).toBe(200)
    expect((await t.json('POST', '/api/v1/healing/breakers/agent%3Ax/report', { ok: false }, routesKey)).status).toBe(
      403,
    )
    const res = await t.json(
      'POST',
      '/api/v1/healing/breakers/agent%3Ax/report',
      { ok: false },
      keyHeaders.get('breakers key')!,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ key: 'agent:x' })
    expect(
      (await t.app.request('/api/v1/model-routes/chat', { headers: keyHeaders.get('breakers key')! })).status,
    ).toBe(403)
  })

  it('an ingest-only key is refused on routes every other key may read', async () => {
    const res = await t.app.request('/api/v1/jobs', { headers: keyHeaders.get('ingest key')! })
    expect(res.status).toBe(403)
    const body = (await res.json()) as { error: { message: string } }
    expect(body.error.message).toMatch(/without scope limits/)
    const ok = await t.app.request('/api/v1/whoami', { headers: keyHeaders.get('ingest key')! })
    expect(await ok.json()).toMatchObject({ role: 'operator', scopes: ['ingest'] })
  })
})
