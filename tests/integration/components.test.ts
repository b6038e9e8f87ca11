import { and, count, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { components, statusHistory } from '../../db/schema/components.ts'
import { recordResult } from '../../app/modules/components/service.ts'
import { uptimes } from '../../app/modules/components/uptime.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, any>
let t: TestApp
let op: Record<string, string>
let viewer: Record<string, string>
beforeAll(async () => {
  t = await testApp()
  op = (await t.key('operator')).headers
  viewer = (await t.key('viewer')).headers
})
afterAll(() => t.close())

const create = (body: unknown, headers = op) => t.json('POST', '/api/v1/components', body, headers)
const fields = async (res: Response) =>
  ((await res.json()) as { error: { details: { field: string; message: string }[] } }).error.details.map((d) => d.field)
const auditOf = async (action: string, target: string) =>
  t.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.action, action), eq(auditLog.target, target)))

describe('components CRUD', () => {
  it('creates an HTTP-checked component with defaults, audited', async () => {
    const res = await create({
      name: 'search-api',
      kind: 'service',
      labels: { team: 'search' },
      description: 'Search',
      http: { url: 'https://search.example.com/health' },
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as Json
    expect(body).toMatchObject({
      name: 'search-api',
      kind: 'service',
      labels: { team: 'search' },
      check: 'http',
      http: {
        url: 'https://search.example.com/health',
        method: 'GET',
        intervalSeconds: 60,
        timeoutMs: 10_000,
        expectedStatus: ['200-399'],
        expectedBodyText: null,
      },
      push: null,
      status: { state: 'unknown' },
    })
    expect(await auditOf('component.created', 'search-api')).toHaveLength(1)
    const got = (await (await t.app.request(`/api/v1/components/${body.id}`, { headers: viewer })).json()) as Json
    expect(got.uptime).toEqual({ '24h': null, '7d': null, '30d': null })
  })

  it('a push component gets an unguessable token shown to operators only; rotate makes a new one', async () => {
    const res = await create({ name: 'nightly-etl', kind: 'workflow', push: { expectedIntervalSeconds: 3600 } })
    expect(res.status).toBe(201)
    const body = (await res.json()) as Json
    expect(body.push).toMatchObject({ expectedIntervalSeconds: 3600, graceSeconds: 30 })
    expect(body.push.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(body.push.url).toBe(`${t.config.PUBLIC_URL}/api/v1/push/${body.push.token}`)
    const [row] = await t.db.select().from(components).where(eq(components.id, body.id))
    expect(JSON.stringify(row)).not.toContain(body.push.token) // stored as a hash and sealed, never in plain
    const asViewer = (await (await t.app.request(`/api/v1/components/${body.id}`, { headers: viewer })).json()) as Json
    expect(asViewer.push).toEqual({ expectedIntervalSeconds: 3600, graceSeconds: 30 })
    const listed = (await (await t.app.request('/api/v1/components', { headers: viewer })).json()) as Json
    expect(JSON.stringify(listed)).not.toContain(body.push.token)

    const rotated = await t.app.request(`/api/v1/components/${body.id}/rotate-token`, { method: 'POST', headers: op })
    expect(rotated.status).toBe(200)
    const fresh = ((await rotated.json()) as Json).push.token
    expect(fresh).not.toBe(body.push.token)
    expect((await t.app.request(`/api/v1/push/${body.push.token}`)).status).toBe(404)
    expect((await t.app.request(`/api/v1/push/${fresh}`)).status).toBe(200)
    expect(await auditOf('component.token_rotated', 'nightly-etl')).toHaveLength(1)
  })

  it('names each bad field', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'a1', kind: 'service', http: { url: 'ftp://example.com/x' } }, 'http.url'],
      [{ name: 'a2', kind: 'service', http: { url: 'file:///etc/passwd' } }, 'http.url'],
      [{ name: 'a3', kind: 'service', http: { url: 'not a url' } }, 'http.url'],
      [{ name: 'a4', kind: 'service', http: { url: 'http://x.test', intervalSeconds: 5 } }, 'http.intervalSeconds'],
      [{ name: 'a5', kind: 'service', http: { url: 'http://x.test', method: 'DELETE' } }, 'http.method'],
      [
        { name: 'a6', kind: 'service', http: { url: 'http://x.test', expectedStatus: ['2xx'] } },
        'http.expectedStatus.0',
      ],
      [
        { name: 'a7', kind: 'service', http: { url: 'http://x.test', intervalSeconds: 10, timeoutMs: 20_000 } },
        'http.timeoutMs',
      ],
      [
        { name: 'a8', kind: 'service', http: { url: 'http://x.test', method: 'HEAD', expectedBodyText: 'ok' } },
        'http.expectedBodyText',
      ],
      [{ name: 'a9', kind: 'robot', http: { url: 'http://x.test' } }, 'kind'],
      [{ name: 'has space', kind: 'agent', http: { url: 'http://x.test' } }, 'name'],
      [{ name: 'b1', kind: 'agent', labels: { component: 'x' }, http: { url: 'http://x.test' } }, 'labels'],
      [{ name: 'b2', kind: 'agent', labels: { team: 5 }, http: { url: 'http://x.test' } }, 'labels.team'],
      [{ name: 'b3', kind: 'agent' }, 'http'],
      [{ name: 'b4', kind: 'agent', http: { url: 'http://x.test' }, push: { expectedIntervalSeconds: 60 } }, 'push'],
      [{ name: 'b5', kind: 'agent', push: { expectedIntervalSeconds: 1 } }, 'push.expectedIntervalSeconds'],
      [{ name: 'b6', kind: 'agent', push: {} }, 'push.expectedIntervalSeconds'],
      [{ name: 'b7', kind: 'agent', http: { url: 'http://x.test', extra: 1 } }, 'http.extra'],
    ]
    for (const [body, field] of cases) {
      const res = await create(body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(await fields(res), JSON.stringify(body)).toContain(field)
    }
    expect((await t.db.select({ n: count() }).from(components).where(eq(components.name, 'a1')))[0]!.n).toBe(0)
  })

  it('refuses a duplicate name with 409, on create and on rename', async () => {
    await create({ name: 'dup-a', kind: 'agent', http: { url: 'http://a.test' } })
    const b = (await (await create({ name: 'dup-b', kind: 'agent', http: { url: 'http://b.test' } })).json()) as Json
    expect((await create({ name: 'dup-a', kind: 'model', http: { url: 'http://c.test' } })).status).toBe(409)
    expect((await t.json('PATCH', `/api/v1/components/${b.id}`, { name: 'dup-a' }, op)).status).toBe(409)
  })

  it('unknown ids are 404 everywhere', async () => {
    const id = '01AAAAAAAAAAAAAAAAAAAAAAAA'
    expect((await t.app.request(`/api/v1/components/${id}`, { headers: viewer })).status).toBe(404)
    expect((await t.app.request(`/api/v1/components/${id}/history`, { headers: viewer })).status).toBe(404)
    expect((await t.json('PATCH', `/api/v1/components/${id}`, { description: 'x' }, op)).status).toBe(404)
    expect((await t.app.request(`/api/v1/components/${id}`, { method: 'DELETE', headers: op })).status).toBe(404)
    expect((await t.app.request(`/api/v1/components/${id}/rotate-token`, { method: 'POST', headers: op })).status).toBe(
      404,
    )
  })

  it('viewers read but may not write (403)', async () => {
    const made = (await (
      await create({ name: 'ro-target', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
    ).json()) as Json
    expect((await create({ name: 'by-viewer', kind: 'agent', http: { url: 'http://v.test' } }, viewer)).status).toBe(
      403,
    )
    expect((await t.json('PATCH', `/api/v1/components/${made.id}`, { description: 'x' }, viewer)).status).toBe(403)
    expect((await t.app.request(`/api/v1/components/${made.id}`, { method: 'DELETE', headers: viewer })).status).toBe(
      403,
    )
    expect(
      (await t.app.request(`/api/v1/components/${made.id}/rotate-token`, { method: 'POST', headers: viewer })).status,
    ).toBe(403)
    expect((await t.app.request('/api/v1/components', { headers: viewer })).status).toBe(200)
    expect((await t.app.request('/api/v1/components')).status).toBe(401)
  })

  it('PATCH merges check fields, switches between http and push', async () => {
    const made = (await (
      await create({ name: 'switcher', kind: 'model', http: { url: 'http://m.test/health', intervalSeconds: 30 } })
    ).json()) as Json
    const patched = (await (
      await t.json(
        'PATCH',
        `/api/v1/components/${made.id}`,
        { http: { timeoutMs: 5000, expectedStatus: [200, '300-302'] }, labels: { env: 'prod' } },
        op,
      )
    ).json()) as Json
    expect(patched.http).toMatchObject({
      url: 'http://m.test/health',
      intervalSeconds: 30,
      timeoutMs: 5000,
      expectedStatus: ['200', '300-302'],
    })
    expect(patched.labels).toEqual({ env: 'prod' })
    const toPush = (await (
      await t.json(
        'PATCH',
        `/api/v1/components/${made.id}`,
        { push: { expectedIntervalSeconds: 120, graceSeconds: 10 } },
        op,
      )
    ).json()) as Json
    expect(toPush).toMatchObject({
      check: 'push',
      http: null,
      push: { expectedIntervalSeconds: 120, graceSeconds: 10 },
    })
    expect(toPush.push.token).toBeTruthy()
    const noUrl = await t.json('PATCH', `/api/v1/components/${made.id}`, { http: { intervalSeconds: 20 } }, op)
    expect(noUrl.status).toBe(400)
    expect(await fields(noUrl)).toContain('http.url')
    const back = (await (
      await t.json('PATCH', `/api/v1/components/${made.id}`, { http: { url: 'https://m.test/ok' } }, op)
    ).json()) as Json
    expect(back).toMatchObject({ check: 'http', push: null, http: { url: 'https://m.test/ok', intervalSeconds: 60 } })
    expect((await t.app.request(`/api/v1/push/${toPush.push.token}`)).status).toBe(404)
    expect(await auditOf('component.updated', 'switcher')).toHaveLength(3)
  })

  it('lists by name with a cursor and filters by kind', async () => {
    for (const n of ['list-1', 'list-2', 'list-3'])
      await create({ name: n, kind: 'vector_store', http: { url: 'http://l.test' } })
    const first = (await (
      await t.app.request('/api/v1/components?kind=vector_store&limit=2', { headers: viewer })
    ).json()) as Json
    expect(first.items.map((x: Json) => x.name)).toEqual(['list-1', 'list-2'])
    const second = (await (
      await t.app.request(`/api/v1/components?kind=vector_store&limit=2&cursor=${first.next}`, { headers: viewer })
    ).json()) as Json
    expect(second.items.map((x: Json) => x.name)).toEqual(['list-3'])
    expect(second.next).toBeNull()
  })

  it('DELETE removes the component and its history, audited', async () => {
    const made = (await (
      await create({ name: 'to-delete', kind: 'database', push: { expectedIntervalSeconds: 60 } })
    ).json()) as Json
    await t.app.request(`/api/v1/push/${made.push.token}?status=up`)
    expect((await t.app.request(`/api/v1/components/${made.id}`, { method: 'DELETE', headers: op })).status).toBe(204)
    expect(await t.db.select().from(statusHistory).where(eq(statusHistory.componentId, made.id))).toHaveLength(0)
    expect((await t.app.request(`/api/v1/components/${made.id}`, { headers: viewer })).status).toBe(404)
    expect(await auditOf('component.deleted', 'to-delete')).toHaveLength(1)
  })
})

describe('status history and uptime', () => {
  it('pages history newest first with from/to and a cursor', async () => {
    const made = (await (
      await create({ name: 'hist', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
    ).json()) as Json
    const base = Date.parse('2026-11-20T00:00:00Z')
    await t.db.insert(statusHistory).values(
      Array.from({ length: 5 }, (_, i) => ({
        componentId: made.id,
        ts: base + i * 60_000,
        up: i !== 2,
        source: 'push' as const,
        message: `n${i}`,
      })),
    )
    const page1 = (await (
      await t.app.request(`/api/v1/components/${made.id}/history?limit=2`, { headers: viewer })
    ).json()) as Json
    expect(page1.items.map((r: Json) => r.message)).toEqual(['n4', 'n3'])
    const page2 = (await (
      await t.app.request(`/api/v1/components/${made.id}/history?limit=2&cursor=${page1.next}`, { headers: viewer })
    ).json()) as Json
    expect(page2.items.map((r: Json) => [r.message, r.up])).toEqual([
      ['n2', false],
      ['n1', true],
    ])
    const ranged = (await (
      await t.app.request(`/api/v1/components/${made.id}/history?from=${base + 60_000}&to=2026-11-20T00:03:00Z`, {
        headers: viewer,
      })
    ).json()) as Json
    expect(ranged.items.map((r: Json) => r.message)).toEqual(['n2', 'n1'])
    expect(ranged.items[0]).toMatchObject({ ts: '2026-11-20T00:02:00.000Z', up: false, source: 'push' })
    const bad = await t.app.request(`/api/v1/components/${made.id}/history?from=yesterday`, { headers: viewer })
    expect(bad.status).toBe(400)
    expect(await fields(bad)).toContain('from')
  })

  it('uptime is time-weighted; gaps longer than two intervals are unknown; the result before a window covers its start', async () => {
    // push every 60 s + 30 s grace: a result holds for at most 180 s
    const made = (await (
      await create({ name: 'uptime-calc', kind: 'service', push: { expectedIntervalSeconds: 60, graceSeconds: 30 } })
    ).json()) as Json
    const now = Date.parse('2026-11-21T12:00:00Z')
    const [row] = await t.db.select().from(components).where(eq(components.id, made.id))
    const store = createMetricStore(t.db)
    const results: [number, boolean][] = [
      [70, false], // before the 1h window: down from -70 until -67 (capped), then unknown
      [50, true], // up -50 .. -49
      [49, false], // down -49 .. -48
      [48, true], // up -48 .. -45 (cap 3 min), unknown -45 .. -10
      [10, true], // up -10 .. -7, unknown -7 .. -5
      [5, false], // down -5 .. -2
      [2, true], // up -2 .. now
    ]
    for (const [minutesAgo, up] of results)
      await recordResult({ db: t.db, store }, row!, { ts: now - minutesAgo * 60_000, up, source: 'push' })
    const [hour, tenMin] = (await uptimes(t.db, [3_600_000, 10 * 60_000], now, [made.id])).get(made.id)!
    // hour: up 1 + 3 + 3 + 2 = 9 min, known 9 + 1 + 3 = 13 min
    expect(hour).toBeCloseTo((9 / 13) * 100, 3)
    // last 10 min: up -10..-7 (3) and -2..0 (2) = 5, down 3: known 8
    expect(tenMin).toBeCloseTo((5 / 8) * 100, 3)
    // a window from -68 min: the -70 result (held until -67 by the cap) covers its first minute
    const [edge] = (await uptimes(t.db, [68 * 60_000], now, [made.id])).get(made.id)!
    expect(edge).toBeCloseTo((9 / 14) * 100, 3) // adds the down minute -68 .. -67
  })
})

describe('pages', () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
  const post = (path: string, headers: Record<string, string>, fields: Record<string, string> = {}) =>
    t.app.request(path, {
      method: 'POST',
      body: form(fields),
      headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
    })

  it('the list shows components; only operators get the New button', async () => {
    const viewerSession = await t.session('viewer')
    const opSession = await t.session('operator')
    const asViewer = await (await t.app.request('/components', { headers: viewerSession.headers })).text()
    expect(asViewer).toContain('search-api')
    expect(asViewer).not.toContain('href="/new/component"')
    expect(await (await t.app.request('/components', { headers: opSession.headers })).text()).toContain(
      'href="/new/component"',
    )
    expect((await t.app.request('/new/component', { headers: viewerSession.headers })).status).toBe(403)
    const newPage = await (await t.app.request('/new/component', { headers: opSession.headers })).text()
    for (const name of [
      'name',
      'kind',
      'url',
      'method',
      'intervalSeconds',
      'timeoutMs',
      'expectedStatus',
      'expectedBodyText',
      'expectedIntervalSeconds',
      'graceSeconds',
    ])
      expect(newPage).toContain(`name="${name}"`)
  })

  it('the form shows validation errors in #flash, then creates and redirects', async () => {
    const s = await t.session('operator')
    const bad = await post('/components', s.headers, {
      name: 'page-made',
      kind: 'service',
      check: 'http',
      url: 'ftp://x.test',
      intervalSeconds: '5',
      timeoutMs: '',
      labels: 'team=web\nnonsense',
    })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('HX-Retarget')).toBe('#flash')
    const html = await bad.text()
    for (const field of ['http.url', 'http.intervalSeconds', 'labels']) expect(html).toContain(`<code>${field}</code>`)
    const ok = await post('/components', s.headers, {
      name: 'page-made',
      kind: 'service',
      check: 'http',
      url: 'http://127.0.0.1:9/health',
      intervalSeconds: '30',
      timeoutMs: '2000',
      expectedStatus: '200-299, 418',
      labels: 'team=web',
    })
    expect(ok.status).toBe(200)
    const to = ok.headers.get('HX-Redirect')!
    expect(to).toMatch(/^\/components\/[0-9A-Z]{26}$/)
    const api = (await (await t.app.request(`/api/v1${to}`, { headers: op })).json()) as Json
    expect(api).toMatchObject({
      name: 'page-made',
      labels: { team: 'web' },
      http: { intervalSeconds: 30, timeoutMs: 2000, expectedStatus: ['200-299', '418'] },
    })
    expect(await auditOf('component.created', 'page-made')).toHaveLength(1)
    // edit through the form: switch to push
    const edited = await post(to, s.headers, {
      name: 'page-made',
      kind: 'agent',
      check: 'push',
      expectedIntervalSeconds: '120',
      graceSeconds: '15',
    })
    expect(edited.headers.get('HX-Redirect')).toBe(to)
    const after = (await (await t.app.request(`/api/v1${to}`, { headers: op })).json()) as Json
    expect(after).toMatchObject({
      kind: 'agent',
      check: 'push',
      push: { expectedIntervalSeconds: 120, graceSeconds: 15 },
    })
    const badEdit = await post(to, s.headers, {
      name: 'page-made',
      kind: 'agent',
      check: 'push',
      expectedIntervalSeconds: 'often',
    })
    expect(badEdit.status).toBe(400)
    expect(await badEdit.text()).toContain('<code>push.expectedIntervalSeconds</code>')
    const viewerSession = await t.session('viewer')
    expect(
      (
        await post('/components', viewerSession.headers, {
          name: 'nope',
          kind: 'agent',
          check: 'push',
          expectedIntervalSeconds: '60',
        })
      ).status,
    ).toBe(403)
  })

  it('a component page draws the status strip and a latency sparkline; operators see the push URL', async () => {
    const made = (await (
      await create({ name: 'page-detail', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
    ).json()) as Json
    for (const [status, ping] of [
      ['up', 40],
      ['up', 55],
      ['down', 120],
      ['up', 35],
    ] as const)
      await t.app.request(`/api/v1/push/${made.push.token}?status=${status}&ping=${ping}`)
    const opSession = await t.session('operator')
    const page = await (await t.app.request(`/components/${made.id}`, { headers: opSession.headers })).text()
    expect(page).toContain('<svg class="strip"')
    expect((page.match(/<rect /g) ?? []).length).toBe(4)
    expect(page).toContain('class="down"')
    expect(page).toMatch(/<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+" class="line"/)
    expect(page).toContain('max 120 ms')
    expect(page).toContain(made.push.token)
    expect(page).toContain('hx-post="/components/' + made.id + '/rotate-token"')
    const viewerSession = await t.session('viewer')
    const asViewer = await (await t.app.request(`/components/${made.id}`, { headers: viewerSession.headers })).text()
    expect(asViewer).not.toContain(made.push.token)
    expect(asViewer).not.toContain('name="expectedIntervalSeconds"')
    // rotate and delete through the page
    const rotated = await post(`/components/${made.id}/rotate-token`, opSession.headers)
    expect(rotated.headers.get('HX-Redirect')).toBe(`/components/${made.id}`)
    expect((await t.app.request(`/api/v1/push/${made.push.token}`)).status).toBe(404)
    const deleted = await post(`/components/${made.id}/delete`, opSession.headers)
    expect(deleted.headers.get('HX-Redirect')).toBe('/components')
    expect((await t.app.request(`/components/${made.id}`, { headers: opSession.headers })).status).toBe(404)
  })
})
