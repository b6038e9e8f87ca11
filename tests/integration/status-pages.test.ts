import { gunzipSync } from 'node:zlib'
import { sql } from 'drizzle-orm'
import xml from 'fast-xml-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routeTable } from '../../app/lib/route-meta.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, any>
type Err = { error: { code: string; details: { field: string; message: string }[] | null } }
let t: TestApp
let admin: Record<string, string>
let op: Record<string, string>
let viewer: Record<string, string>
let ingest: Record<string, string>

// Private strings: none may ever reach the public page, its JSON or its feed.
const PRIVATE = {
  name: 'pg-primary-PRIVNAME',
  label: 'PRIVLABELVALUE',
  url: 'http://PRIVHOST.example:9/health',
  alertTitle: 'PRIVALERTTITLE disk 97%',
  annotation: 'PRIVANNOTATION runbook',
  matcher: 'PRIVMATCHER',
  comment: 'PRIVCOMMENT',
}

beforeAll(async () => {
  t = await testApp()
  admin = (await t.key('admin')).headers
  op = (await t.key('operator')).headers
  viewer = (await t.key('viewer')).headers
  ingest = (await t.key('operator', ['ingest'])).headers
})
afterAll(() => t.close())

const post = (path: string, body: unknown, headers = admin) => t.json('POST', path, body, headers)
const patch = (path: string, body: unknown, headers = admin) => t.json('PATCH', path, body, headers)
const fields = async (res: Response) => ((await res.json()) as Err).error.details?.map((d) => d.field)
const pub = (path: string, headers: Record<string, string> = {}) => t.app.request(path, { headers })

async function component(name: string, extra: Json = {}) {
  const body = { name, kind: 'service', push: { expectedIntervalSeconds: 60, graceSeconds: 30 }, ...extra }
  const res = await t.json('POST', '/api/v1/components', body, op)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Json
}
async function page(body: Json) {
  const res = await post('/api/v1/status-pages', body)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Json
}
async function fire(title: string, labels: Record<string, string>, annotations: Record<string, string> = {}) {
  const res = await post(
    '/api/v1/alerts',
    { title, severity: 'critical', status: 'firing', labels, annotations },
    ingest,
  )
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return ((await res.json()) as { alert: Json }).alert
}
const publicJson = async (slug: string) => {
  const res = await pub(`/status/${slug}.json`)
  expect(res.status).toBe(200)
  return (await res.json()) as Json
}
const auditActions = async (target: string) =>
  (await t.db.all<{ action: string }>(sql`select action from audit_log where target = ${target} order by id`)).map(
    (r) => r.action,
  )

describe('status pages: CRUD through the API, audited', () => {
  it('creates, reads, lists, changes and deletes a page', async () => {
    const api = await component('crud-api')
    const p = await page({
      slug: 'crud',
      title: 'Crud status',
      logoText: 'CR',
      footer: 'Questions: support@example.com',
      groups: [{ name: 'Core', components: [{ componentId: api.id, displayName: 'API' }] }],
    })
    expect(p).toMatchObject({ slug: 'crud', published: false, url: '/status/crud', logoText: 'CR' })
    expect(
      ((await (await t.app.request(`/api/v1/status-pages/${p.id}`, { headers: viewer })).json()) as Json).title,
    ).toBe('Crud status')
    const list = (await (await t.app.request('/api/v1/status-pages', { headers: viewer })).json()) as Json
    expect(list.items.map((x: Json) => x.slug)).toContain('crud')
    const changed = await patch(`/api/v1/status-pages/${p.id}`, { title: 'Crud 2', published: true, slug: 'crud-2' })
    expect(changed.status).toBe(200)
    expect(await changed.json()).toMatchObject({ title: 'Crud 2', published: true, slug: 'crud-2' })
    expect((await pub('/status/crud-2')).status).toBe(200)
    expect((await t.json('DELETE', `/api/v1/status-pages/${p.id}`, undefined, admin)).status).toBe(204)
    expect((await t.app.request(`/api/v1/status-pages/${p.id}`, { headers: viewer })).status).toBe(404)
    expect((await pub('/status/crud-2')).status).toBe(404)
    expect(await auditActions('crud')).toEqual(['status_page.created'])
    expect(await auditActions('crud-2')).toEqual(['status_page.updated', 'status_page.deleted'])
  })

  it('refuses bad input with a 4xx naming the field', async () => {
    const c = await component('valid-c')
    let res = await post('/api/v1/status-pages', { slug: 'Bad Slug!', title: 'x' })
    expect(res.status).toBe(400)
    expect(await fields(res)).toEqual(['slug'])
    res = await post('/api/v1/status-pages', { slug: 'ok', title: '' })
    expect(await fields(res)).toEqual(['title'])
    res = await post('/api/v1/status-pages', { slug: 'ok', title: 'x', secret: 1 })
    expect(await fields(res)).toEqual(['secret'])
    res = await post('/api/v1/status-pages', {
      slug: 'ok',
      title: 'x',
      groups: [{ name: 'G', components: [{ componentId: 'nope', displayName: 'N' }] }],
    })
    expect(res.status).toBe(400)
    expect(await fields(res)).toEqual(['groups.0.components.0.componentId'])
    res = await post('/api/v1/status-pages', {
      slug: 'ok',
      title: 'x',
      groups: [
        { name: 'G', components: [{ componentId: c.id, displayName: 'A' }] },
        { name: 'H', components: [{ componentId: c.id, displayName: 'B' }] },
      ],
    })
    expect(await fields(res)).toEqual(['groups.1.components.0.componentId'])
    res = await post('/api/v1/status-pages', { slug: 'ok', title: 'x', groups: [{ name: 'G', components: [{}] }] })
    expect(await fields(res)).toEqual(['groups.0.components.0.componentId', 'groups.0.components.0.displayName'])
    await page({ slug: 'taken', title: 'Taken' })
    res = await post('/api/v1/status-pages', { slug: 'taken', title: 'Again' })
    expect(res.status).toBe(409)
    expect(await fields(res)).toEqual(['slug'])
    const p = await page({
      slug: 'valid',
      title: 'V',
      groups: [{ name: 'G', components: [{ componentId: c.id, displayName: 'C' }] }],
    })
    res = await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'T', message: 'm', status: 'panicking' })
    expect(await fields(res)).toEqual(['status'])
    res = await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'T', message: 'm', componentIds: ['other'] })
    expect(await fields(res)).toEqual(['componentIds.0'])
    res = await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'T', message: 'm', alertId: 'no-such-alert' })
    expect(await fields(res)).toEqual(['alertId'])
    res = await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'T' })
    expect(await fields(res)).toEqual(['message'])
    res = await post('/api/v1/status-pages/no-such-page/incidents', { title: 'T', message: 'm' })
    expect(res.status).toBe(404)
    res = await post('/api/v1/status-incidents/no-such/updates', { status: 'resolved', message: 'm' })
    expect(res.status).toBe(404)
    res = await t.json('PUT', '/api/v1/silences/no-such/public', { title: '' }, admin)
    expect(await fields(res)).toEqual(['title'])
  })
})

describe('who may do what', () => {
  it('viewers read, only admins write, anonymous callers get 401 on the API', async () => {
    const p = await page({ slug: 'rbac', title: 'RBAC' })
    for (const headers of [viewer, op]) {
      expect((await t.app.request('/api/v1/status-pages', { headers })).status).toBe(200)
      expect((await t.app.request(`/api/v1/status-pages/${p.id}/incidents`, { headers })).status).toBe(200)
      expect((await post('/api/v1/status-pages', { slug: 'nope', title: 'N' }, headers)).status).toBe(403)
      expect((await patch(`/api/v1/status-pages/${p.id}`, { title: 'N' }, headers)).status).toBe(403)
      expect((await t.json('DELETE', `/api/v1/status-pages/${p.id}`, undefined, headers)).status).toBe(403)
      expect((await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'T', message: 'm' }, headers)).status).toBe(
        403,
      )
      expect((await t.json('PUT', '/api/v1/silences/x/public', { title: 'T' }, headers)).status).toBe(403)
    }
    expect((await post('/api/v1/status-pages', { slug: 'nope', title: 'N' }, ingest)).status).toBe(403)
    expect((await t.app.request('/api/v1/status-pages')).status).toBe(401)
    expect((await post('/api/v1/status-pages', { slug: 'nope', title: 'N' }, {})).status).toBe(401)
    // The dashboard: a viewer's session reads the pages without the forms; an admin's session writes through them.
    const v = await t.session('viewer')
    const list = await t.app.request('/status-pages', { headers: { ...v.headers, Accept: 'text/html' } })
    expect(list.status).toBe(200)
    const html = await list.text()
    expect(html).toContain('RBAC')
    expect(html).not.toContain('New status page')
    const formPost = (path: string, body: Record<string, string>, headers: Record<string, string>) =>
      t.app.request(path, {
        method: 'POST',
        body: new URLSearchParams(body),
        headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
      })
    expect((await formPost('/status-pages', { slug: 'from-viewer', title: 'V' }, v.headers)).status).toBe(403)
    const a = await t.session('admin')
    const made = await formPost('/status-pages', { slug: 'from-form', title: 'Made on the page' }, a.headers)
    expect(made.status).toBe(303)
    expect(made.headers.get('location')).toMatch(/^\/status-pages\/\w+$/)
    const bad = await formPost(
      '/status-pages',
      { slug: 'Bad!', title: 'x' },
      { ...a.headers, Accept: 'application/json' },
    )
    expect(bad.status).toBe(400)
  })

  it('the public routes are exactly the known ones plus the three status page answers', () => {
    const publicRoutes = routeTable(t.app)
      .filter((r) => r.access === 'public')
      .map((r) => `${r.method} ${r.path}`)
    expect(publicRoutes.filter((r) => r.includes('status'))).toEqual([
      'GET /status/:slug',
      'GET /status/:slug/feed.atom',
    ])
  })
})

describe('the public page, JSON and feed', () => {
  let p: Json
  let api: Json
  let db: Json
  beforeAll(async () => {
    api = await component('pub-api')
    db = await component(PRIVATE.name, {
      labels: { team: PRIVATE.label },
      push: undefined,
      http: { url: PRIVATE.url, intervalSeconds: 60 },
    })
    p = await page({
      slug: 'acme',
      title: 'Acme',
      logoText: 'AC',
      footer: 'Acme Inc.',
      published: true,
      groups: [
        { name: 'Website', components: [{ componentId: api.id, displayName: 'Public API' }] },
        { name: 'Data', components: [{ componentId: db.id, displayName: 'Database' }] },
      ],
    })
  })

  it('is served without a session, with no cookie set, in HTML that needs no script', async () => {
    const res = await pub('/status/acme')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('set-cookie')).toBeNull()
    const html = await res.text()
    expect(html).toMatch(/^<!doctype html><html lang="en">/)
    expect(html).toContain('<h1>Acme</h1>')
    expect(html).toContain('Public API')
    expect(html).toContain('Database')
    expect(html).toContain('Acme Inc.')
    expect(html).not.toContain('<script')
  })

  it('answers 404 for an unknown or unpublished slug, in all three forms', async () => {
    await page({ slug: 'draft', title: 'Draft page' })
    for (const path of [
      '/status/nope',
      '/status/nope.json',
      '/status/nope/feed.atom',
      '/status/draft',
      '/status/draft.json',
      '/status/draft/feed.atom',
    ]) {
      const res = await pub(path)
      expect(res.status, path).toBe(404)
      expect(await res.text()).not.toContain('Draft page')
    }
  })

  it('shows each component state and 90 daily uptime bars from the status history', async () => {
    const now = Date.now()
    const day = 86_400_000
    const today = Math.floor(now / day) * day
    // Yesterday: 6 h down then 18 h up, as the status history stores it (prev_* and held_ms).
    await t.db.run(sql`
      insert into status_history (component_id, ts, up, source, prev_ts, prev_up, held_ms) values
        (${api.id}, ${today - day + 6 * 3600_000}, 1, 'push', ${today - day}, 0, ${6 * 3600_000}),
        (${api.id}, ${today}, 1, 'push', ${today - day + 6 * 3600_000}, 1, ${18 * 3600_000})`)
    await t.db.run(
      sql`update components set status = 'up', last_check_at = ${today}, status_since = ${today} where id = ${api.id}`,
    )
    t.services.statusPages.cache.invalidateAll()
    const v = await publicJson('acme')
    expect(v.days).toHaveLength(90)
    expect(v.days.at(-1)).toBe(new Date(today).toISOString().slice(0, 10))
    const [web, data] = v.groups
    expect(web.name).toBe('Website')
    expect(web.components[0]).toMatchObject({ name: 'Public API', status: 'operational' })
    // The days come as [days, uptime] runs: nothing known until yesterday (75 %), then today.
    expect(web.components[0].days).toBeUndefined()
    expect(web.components[0].runs).toEqual([
      [88, null],
      [1, 75],
      [1, 100],
    ])
    expect(data.components[0]).toMatchObject({ name: 'Database', status: 'unknown', uptime: null })
    const html = await (await pub('/status/acme')).text()
    expect(html).toContain('role="img"')
    expect(html).toContain(`${v.days.at(-2)}: 75.00 %`)
  })

  it('incidents: opened from an alert with a public title, updated over time, resolved into the history', async () => {
    const alert = await fire(PRIVATE.alertTitle, { instance: PRIVATE.label }, { runbook: PRIVATE.annotation })
    let res = await post(`/api/v1/status-pages/${p.id}/incidents`, {
      title: 'Slow responses',
      message: 'We are looking into slow responses.',
      alertId: alert.id,
      impact: 'major',
      componentIds: [api.id],
    })
    expect(res.status).toBe(201)
    const incident = (await res.json()) as Json
    expect(incident).toMatchObject({ status: 'investigating', alertId: alert.id, impact: 'major' })
    let v = await publicJson('acme')
    expect(v.status).toBe('outage')
    expect(v.incidents.active).toHaveLength(1)
    expect(v.incidents.active[0]).toMatchObject({ title: 'Slow responses', components: ['Public API'] })
    expect(v.incidents.active[0]).not.toHaveProperty('alertId')
    for (const [status, message] of [
      ['identified', 'A bad deploy.'],
      ['monitoring', 'Rolled back.'],
      ['resolved', 'All good again.'],
    ]) {
      res = await post(`/api/v1/status-incidents/${incident.id}/updates`, { status, message })
      expect(res.status).toBe(201)
    }
    v = await publicJson('acme')
    expect(v.incidents.active).toEqual([])
    expect(v.incidents.past[0]).toMatchObject({ title: 'Slow responses', status: 'resolved' })
    expect(v.incidents.past[0].updates.map((u: Json) => u.status)).toEqual([
      'resolved',
      'monitoring',
      'identified',
      'investigating',
    ])
    expect(v.incidents.past[0].resolvedAt).not.toBeNull()
    const html = await (await pub('/status/acme')).text()
    expect(html).toContain('Past incidents')
    expect(html).toContain('All good again.')
    expect(await auditActions(incident.id)).toEqual([
      'status_incident.created',
      'status_incident.update_posted',
      'status_incident.update_posted',
      'status_incident.update_posted',
    ])
    // A hand-made incident, edited and then deleted, leaves the page.
    res = await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'By hand', message: 'Degraded search.' })
    const hand = (await res.json()) as Json
    expect((await patch(`/api/v1/status-incidents/${hand.id}`, { title: 'Search is slow' })).status).toBe(200)
    expect((await publicJson('acme')).incidents.active[0].title).toBe('Search is slow')
    expect((await t.json('DELETE', `/api/v1/status-incidents/${hand.id}`, undefined, admin)).status).toBe(204)
    expect((await publicJson('acme')).incidents.active).toEqual([])
  })

  it('maintenance: a silence marked public shows its title and window, never its matchers', async () => {
    const res = await post(
      '/api/v1/silences',
      { matchers: [{ label: 'host', op: '=', value: PRIVATE.matcher }], duration: '2h', comment: PRIVATE.comment },
      op,
    )
    const s = (await res.json()) as Json
    expect((await publicJson('acme')).maintenance.active).toEqual([])
    expect((await t.json('PUT', `/api/v1/silences/${s.id}/public`, { title: 'Database upgrade' }, op)).status).toBe(403)
    const marked = await t.json('PUT', `/api/v1/silences/${s.id}/public`, { title: 'Database upgrade' }, admin)
    expect(marked.status).toBe(200)
    expect(((await marked.json()) as Json).public).toEqual({ title: 'Database upgrade' })
    const v = await publicJson('acme')
    expect(v.maintenance.active).toEqual([
      { title: 'Database upgrade', state: 'active', recurring: false, startsAt: s.startsAt, endsAt: s.endsAt },
    ])
    const html = await (await pub('/status/acme')).text()
    expect(html).toContain('Scheduled maintenance')
    expect(html).toContain('Database upgrade')
    // A recurring public window shows its next occurrence as upcoming.
    const weekly = (await (
      await post(
        '/api/v1/silences',
        { matchers: [{ label: 'host', op: '=', value: PRIVATE.matcher }], cron: '0 3 * * 0', duration: '1h' },
        op,
      )
    ).json()) as Json
    await t.json('PUT', `/api/v1/silences/${weekly.id}/public`, { title: 'Weekly patching' }, admin)
    const upcoming = (await publicJson('acme')).maintenance.upcoming
    expect(upcoming).toHaveLength(1)
    expect(upcoming[0]).toMatchObject({ title: 'Weekly patching', recurring: true })
    expect(new Date(upcoming[0].endsAt).getTime() - new Date(upcoming[0].startsAt).getTime()).toBe(3600_000)
    // Expiring it moves it to the past; making it private takes it off.
    expect((await post(`/api/v1/silences/${s.id}/expire`, {}, op)).status).toBe(200)
    expect((await publicJson('acme')).maintenance.past.map((m: Json) => m.title)).toEqual(['Database upgrade'])
    expect((await t.json('DELETE', `/api/v1/silences/${weekly.id}/public`, undefined, admin)).status).toBe(200)
    expect((await publicJson('acme')).maintenance.upcoming).toEqual([])
    expect(await auditActions(s.id)).toContain('silence.published')
    expect(await auditActions(weekly.id)).toContain('silence.unpublished')
  })

  it('maintenance from the silences page: an admin marks a silence public and private again', async () => {
    const s = (await (
      await post('/api/v1/silences', { matchers: [{ label: 'host', op: '=', value: 'page' }], duration: '1h' }, op)
    ).json()) as Json
    const a = await t.session('admin')
    const form = (path: string, body: Record<string, string>, headers: Record<string, string>) =>
      t.app.request(path, {
        method: 'POST',
        body: new URLSearchParams(body),
        headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      })
    const o = await t.session('operator')
    expect((await form(`/alerts/silences/${s.id}/public`, { title: 'Router swap' }, o.headers)).status).toBe(403)
    expect((await form(`/alerts/silences/${s.id}/public`, { title: '' }, a.headers)).status).toBe(400)
    expect((await form(`/alerts/silences/${s.id}/public`, { title: 'Router swap' }, a.headers)).status).toBe(200)
    expect((await publicJson('acme')).maintenance.active.map((m: Json) => m.title)).toContain('Router swap')
    const page = await (
      await t.app.request('/alerts/silences', { headers: { ...a.headers, Accept: 'text/html' } })
    ).text()
    expect(page).toContain('public: Router swap')
    expect((await form(`/alerts/silences/${s.id}/private`, {}, a.headers)).status).toBe(200)
    expect((await publicJson('acme')).maintenance.active.map((m: Json) => m.title)).not.toContain('Router swap')
  })

  it('the Atom feed is valid XML with one entry per incident', async () => {
    const res = await pub('/status/acme/feed.atom')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/atom\+xml/)
    const body = await res.text()
    expect(xml.validate(body)).toBe(true)
    const doc = xml.parse(body, { ignoreAttributes: false, attributeNamePrefix: '@' }) as Json
    const feed = doc.feed
    expect(feed['@xmlns']).toBe('http://www.w3.org/2005/Atom')
    expect(feed.title).toBe('Acme incidents')
    expect(feed.id).toBe(`${t.config.PUBLIC_URL}/status/acme`)
    expect(Number.isNaN(Date.parse(feed.updated))).toBe(false)
    expect(feed.author.name).toBe('Acme')
    const entries = [feed.entry].flat()
    expect(entries.map((e: Json) => e.title)).toEqual(['Slow responses'])
    const [e] = entries
    expect(e.id).toMatch(/^http:\/\/.+\/status\/acme#incident-\w+$/)
    expect(Number.isNaN(Date.parse(e.updated))).toBe(false)
    expect(e.content['#text']).toContain('All good again.')
  })

  it('nothing private leaks into the HTML, the JSON or the feed', async () => {
    t.services.statusPages.cache.invalidateAll()
    const bodies = await Promise.all(
      ['/status/acme', '/status/acme.json', '/status/acme/feed.atom'].map(async (path) => (await pub(path)).text()),
    )
    for (const body of bodies) {
      for (const secret of [...Object.values(PRIVATE), 'PRIVHOST', db.id, 'pub-api'])
        expect(body, secret).not.toContain(secret)
    }
  })
})

describe('the cache', () => {
  it('serves a burst from memory, with an ETag and 304, and drops the page when it changes', async () => {
    const c = await component('cache-c')
    const p = await page({
      slug: 'cache',
      title: 'Cached',
      published: true,
      groups: [{ name: 'G', components: [{ componentId: c.id, displayName: 'Thing' }] }],
    })
    const first = await pub('/status/cache')
    expect(first.status).toBe(200)
    expect(first.headers.get('cache-control')).toBe('public, max-age=10')
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^".+"$/)
    expect((await pub('/status/cache', { 'If-None-Match': etag })).status).toBe(304)
    expect((await pub('/status/cache', { 'If-None-Match': `W/${etag}` })).status).toBe(304)
    expect((await pub('/status/cache', { 'If-None-Match': '"other"' })).status).toBe(200)
    // Browsers ask for gzip: the same body, compressed once per build (Brotli when asked: see status-pages-encoded).
    const zipped = await pub('/status/cache', { 'Accept-Encoding': 'gzip, deflate' })
    expect(zipped.headers.get('content-encoding')).toBe('gzip')
    expect(zipped.headers.get('etag')).toBe(etag)
    expect(gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString()).toBe(await first.clone().text())
    // A change behind the app's back (another instance) is not seen while the entry lives: the burst
    // is answered from memory, not from the database.
    await t.db.run(sql`update status_pages set title = 'Changed underneath' where id = ${p.id}`)
    const burst = await Promise.all(Array.from({ length: 20 }, () => pub('/status/cache')))
    for (const r of burst) expect(r.headers.get('etag')).toBe(etag)
    expect(await burst[0]!.text()).not.toContain('Changed underneath')
    // An incident through this process drops the page at once.
    await post(`/api/v1/status-pages/${p.id}/incidents`, { title: 'Blip', message: 'A short blip.' })
    const after = await pub('/status/cache')
    expect(after.headers.get('etag')).not.toBe(etag)
    expect(await after.text()).toContain('Blip')
    expect((await pub('/status/cache', { 'If-None-Match': etag })).status).toBe(200)
    // A component going down (a push heartbeat) drops the pages showing it.
    const before = (await publicJson('cache')).groups[0].components[0].status
    expect(before).toBe('unknown')
    expect((await pub(`/api/v1/push/${c.push.token}?status=down&msg=x`)).status).toBe(200)
    expect((await publicJson('cache')).groups[0].components[0].status).toBe('outage')
    // A rebuild that finds nothing changed keeps the ETag (the time of the build is not part of it).
    const same = await pub('/status/cache')
    t.services.statusPages.cache.invalidateAll()
    const rebuilt = await pub('/status/cache', { 'If-None-Match': same.headers.get('etag')! })
    expect(rebuilt.status).toBe(304)
    // Unpublishing takes it off at once.
    await patch(`/api/v1/status-pages/${p.id}`, { published: false })
    expect((await pub('/status/cache')).status).toBe(404)
  })

  it('a component check job reports state changes to the cache', async () => {
    const c = await component('cache-job')
    await page({
      slug: 'cache-job',
      title: 'Job',
      published: true,
      groups: [{ name: 'G', components: [{ componentId: c.id, displayName: 'Job thing' }] }],
    })
    expect((await publicJson('cache-job')).groups[0].components[0].status).toBe('unknown')
    // The check job records a missed heartbeat: the component goes down.
    await t.db.run(sql`update components set next_check_at = 1 where id = ${c.id}`)
    expect(await t.scheduler.runTick('component-checks', Date.now())).toBe('ran')
    expect((await publicJson('cache-job')).groups[0].components[0].status).toBe('outage')
  })
})
