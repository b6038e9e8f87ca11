import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { users } from '../../db/schema/auth.ts'
import { type TestApp, testApp } from '../helpers/app.ts'

let t: TestApp
let viewer: Record<string, string>
let op: Record<string, string>

beforeAll(async () => {
  t = await testApp()
  viewer = (await t.key('viewer')).headers
  op = (await t.key('operator')).headers
  const ingest = (await t.key('operator', ['ingest'])).headers
  for (const [title, service] of [
    ['Checkout latency high', 'checkout'],
    ['Payments 5xx', 'payments'],
  ]) {
    const res = await t.json(
      'POST',
      '/api/v1/alerts',
      { title, severity: 'critical', status: 'firing', labels: { service } },
      ingest,
    )
    expect(res.status).toBe(201)
  }
  const comp = await t.json(
    'POST',
    '/api/v1/components',
    { name: 'checkout-api', kind: 'service', push: { expectedIntervalSeconds: 60 }, labels: { team: 'shop' } },
    op,
  )
  expect(comp.status, await comp.clone().text()).toBe(201)
  const points = await t.json(
    'POST',
    '/api/v1/metrics',
    { points: [{ name: 'checkout_requests_total', labels: { service: 'checkout' }, value: 1 }] },
    ingest,
  )
  expect(points.status, await points.clone().text()).toBeLessThan(300)
  const rule = await t.json(
    'POST',
    '/api/v1/alert-rules',
    { name: 'checkout-error-rate', kind: 'threshold', metric: 'checkout_requests_total', comparator: '>', value: 5 },
    op,
  )
  expect(rule.status, await rule.clone().text()).toBe(201)
})
afterAll(() => t.close())

type Results = Record<'alerts' | 'components' | 'rules' | 'metrics', { title: string; url: string; kind: string }[]>
const find = async (q: string, headers = viewer) => {
  const res = await t.app.request(`/api/v1/search?q=${encodeURIComponent(q)}`, { headers })
  expect(res.status).toBe(200)
  return (await res.json()) as Results
}

describe('GET /api/v1/search and /search', () => {
  it('finds alerts, components, rules and metrics by name', async () => {
    const r = await find('checkout')
    expect(r.alerts.map((a) => a.title)).toEqual(['Checkout latency high'])
    expect(r.components.map((c) => c.title)).toEqual(['checkout-api'])
    expect(r.rules.map((x) => [x.kind, x.title])).toEqual([['alert_rule', 'checkout-error-rate']])
    expect(r.metrics.map((m) => m.title)).toEqual(['checkout_requests_total'])
    expect(r.metrics[0]!.url).toBe('/explore?name=checkout_requests_total')
  })

  it('finds by label, written key=value or as a bare word', async () => {
    const r = await find('service=payments')
    expect(r.alerts.map((a) => a.title)).toEqual(['Payments 5xx'])
    expect(r.metrics).toEqual([])
    expect((await find('team=shop')).components.map((c) => c.title)).toEqual(['checkout-api'])
    const m = await find('service=checkout')
    expect(m.metrics[0]!.url).toBe('/explore?name=checkout_requests_total&match%5Bservice%5D=checkout')
  })

  it('treats LIKE wildcards as text', async () => {
    const r = await find('%')
    expect([...r.alerts, ...r.components, ...r.rules, ...r.metrics]).toEqual([])
    expect((await find('_')).alerts).toEqual([])
  })

  it('answers 400 naming q when it is missing, empty or too long', async () => {
    for (const qs of ['', '?q=', '?q=%20%20', `?q=${'x'.repeat(101)}`]) {
      const res = await t.app.request(`/api/v1/search${qs}`, { headers: viewer })
      expect(res.status, qs).toBe(400)
      const body = (await res.json()) as { error: { details: { field: string }[] } }
      expect(body.error.details.map((d) => d.field)).toEqual(['q'])
    }
  })

  it('needs a signed-in user or a key with a role: 401 without, 403 for a scoped key', async () => {
    expect((await t.app.request('/api/v1/search?q=checkout')).status).toBe(401)
    const scoped = (await t.key('admin', ['ingest'])).headers
    expect((await t.app.request('/api/v1/search?q=checkout', { headers: scoped })).status).toBe(403)
    const page = await t.app.request('/search?q=checkout', { headers: { Accept: 'text/html' } })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toMatch(/^\/login\?next=/)
  })

  it('answers the search box with a fragment and Enter with a page', async () => {
    const s = await t.session('viewer')
    const fragment = await t.app.request('/search?q=checkout', { headers: { ...s.headers, 'HX-Request': 'true' } })
    expect(fragment.status).toBe(200)
    const html = await fragment.text()
    expect(html).not.toContain('<html')
    expect(html).toContain('data-group="alerts"')
    expect(html).toContain('href="/components/')
    const page = await (await t.app.request('/search?q=nothing-like-this', { headers: s.headers })).text()
    expect(page).toContain('<html')
    expect(page).toContain('Nothing named or labelled “nothing-like-this”')
    const bad = await t.app.request('/search?q=', { headers: { ...s.headers, 'HX-Request': 'true' } })
    expect(bad.status).toBe(400)
  })
})

describe('theme preference', () => {
  it('follows the system until chosen, then is kept for the user and drawn on every page', async () => {
    const s = await t.session('viewer')
    const before = await (await t.app.request('/alerts', { headers: s.headers })).text()
    expect(before).toMatch(/<html lang="en">/)
    const res = await t.app.request('/settings/theme', {
      method: 'POST',
      headers: { ...s.headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: 'theme=dark',
    })
    expect(res.status).toBe(204)
    const after = await (await t.app.request('/alerts', { headers: s.headers })).text()
    expect(after).toContain('<html lang="en" data-theme="dark">')
    const [row] = await t.db.select().from(users).where(eq(users.id, s.user.id))
    expect(row!.theme).toBe('dark')
    const audited = await t.db.select().from(auditLog).where(eq(auditLog.action, 'user.theme_changed'))
    expect(audited.map((a) => a.summary)).toContain('dark')
  })

  it('sets light, dark or system through the API; system forgets the choice', async () => {
    const s = await t.session('operator')
    const put = (theme: unknown, headers = s.headers) => t.json('PUT', '/api/v1/me/theme', { theme }, headers)
    expect((await put('light')).status).toBe(200)
    expect(
      ((await (await t.app.request('/api/v1/me', { headers: s.headers })).json()) as { theme: string }).theme,
    ).toBe('light')
    expect((await put('system')).status).toBe(200)
    const page = await (await t.app.request('/alerts', { headers: s.headers })).text()
    expect(page).toMatch(/<html lang="en">/)
  })

  it('refuses a bad theme (400 naming it), a missing CSRF token (403) and an API key (400)', async () => {
    const s = await t.session('viewer')
    const bad = await t.json('PUT', '/api/v1/me/theme', { theme: 'purple' }, s.headers)
    expect(bad.status).toBe(400)
    const details = ((await bad.json()) as { error: { details: { field: string }[] } }).error.details
    expect(details.map((d) => d.field)).toEqual(['theme'])
    const noCsrf = await t.app.request('/settings/theme', {
      method: 'POST',
      headers: { Cookie: s.headers.Cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'theme=dark',
    })
    expect(noCsrf.status).toBe(403)
    const key = await t.json('PUT', '/api/v1/me/theme', { theme: 'dark' }, viewer)
    expect(key.status).toBe(400)
    expect(((await key.json()) as { error: { code: string } }).error.code).toBe('user_only')
  })
})
