/**
 * The public status answers as the cache keeps them (encoded.ts): the bytes served are the bytes of
 * an uncached render, each encoding decodes to them, headers are made once per build and say what
 * varies, and a change through this process drops every encoding at once. Also: the routes never
 * read the caller (`anonymous()`), so a signed-in visitor gets the same answer as anyone.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routeTable } from '../../app/lib/route-meta.ts'
import { pageHeaders } from '../../app/middleware/secure-headers.ts'
import { encodingPicker, pickEncoding } from '../../app/modules/status-pages/encoded.ts'
import { renderAtom } from '../../app/modules/status-pages/atom.ts'
import { renderStatusHtml } from '../../app/modules/status-pages/public-page.tsx'
import { renderJson } from '../../app/modules/status-pages/json.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, any>
let t: TestApp
let admin: Record<string, string>
let comp: Json
let pageId: string

const pub = (path: string, headers: Record<string, string> = {}) => t.app.request(path, { headers })
const bytes = async (res: Response) => Buffer.from(await res.arrayBuffer())

beforeAll(async () => {
  t = await testApp()
  admin = (await t.key('admin')).headers
  const op = (await t.key('operator')).headers
  const c = await t.json(
    'POST',
    '/api/v1/components',
    { name: 'enc-api', kind: 'service', push: { expectedIntervalSeconds: 60, graceSeconds: 30 } },
    op,
  )
  comp = (await c.json()) as Json
  const p = await t.json(
    'POST',
    '/api/v1/status-pages',
    {
      slug: 'enc',
      title: 'Encoded',
      published: true,
      groups: [{ name: 'G', components: [{ componentId: comp.id, displayName: 'Public API' }] }],
    },
    admin,
  )
  expect(p.status).toBe(201)
  pageId = ((await p.json()) as Json).id
  await t.json('POST', `/api/v1/status-pages/${pageId}/incidents`, { title: 'First blip', message: 'Looking.' }, admin)
})
afterAll(() => t.close())

describe('the encoded answers', () => {
  it('serve the same bytes as an uncached render of the same view, in every format and encoding', async () => {
    const hit = (await t.services.statusPages.cache.get('enc'))!
    const forms = [
      ['/status/enc', renderStatusHtml(hit.view), 'text/html; charset=utf-8'],
      ['/status/enc.json', renderJson(hit.view), 'application/json; charset=utf-8'],
      ['/status/enc/feed.atom', renderAtom(hit.view, t.config.PUBLIC_URL), 'application/atom+xml; charset=utf-8'],
    ] as const
    for (const [path, uncached, type] of forms) {
      const plain = await pub(path)
      expect(plain.status).toBe(200)
      expect(plain.headers.get('content-type')).toBe(type)
      expect(plain.headers.get('content-encoding')).toBeNull()
      const body = await bytes(plain)
      expect(body.toString('utf8')).toBe(uncached)
      expect(plain.headers.get('content-length')).toBe(String(body.byteLength))
      const gz = await pub(path, { 'Accept-Encoding': 'gzip, deflate' })
      expect(gz.headers.get('content-encoding')).toBe('gzip')
      const gzBody = await bytes(gz)
      expect(gz.headers.get('content-length')).toBe(String(gzBody.byteLength))
      expect(gunzipSync(gzBody).equals(body)).toBe(true)
      const br = await pub(path, { 'Accept-Encoding': 'gzip, deflate, br, zstd' })
      expect(br.headers.get('content-encoding')).toBe('br')
      const brBody = await bytes(br)
      expect(brotliDecompressSync(brBody).equals(body)).toBe(true)
      // One ETag per format across encodings (the representation's content), and Vary on every answer.
      for (const r of [plain, gz, br]) {
        expect(r.headers.get('vary')).toBe('Accept-Encoding')
        expect(r.headers.get('etag')).toBe(plain.headers.get('etag'))
        expect(r.headers.get('cache-control')).toBe('public, max-age=10')
      }
      // The same bytes again: kept, not made per request.
      expect((await bytes(await pub(path, { 'Accept-Encoding': 'br' }))).equals(brBody)).toBe(true)
    }
  })

  it('honours q=0 and unknown codings: Brotli only when acceptable, else gzip, else none', async () => {
    const enc = async (ae: string) =>
      (await pub('/status/enc', { 'Accept-Encoding': ae })).headers.get('content-encoding')
    expect(await enc('br;q=0, gzip')).toBe('gzip')
    expect(await enc('gzip;q=0, br;q=0')).toBeNull()
    expect(await enc('deflate, zstd')).toBeNull()
    expect(await enc('identity')).toBeNull()
    expect(await enc('*')).toBe('gzip')
    expect(await enc('BR;q=0.5')).toBe('br')
  })

  it('answers 304 to If-None-Match with Vary and the ETag, and no body, whatever the encoding asked', async () => {
    const etag = (await pub('/status/enc')).headers.get('etag')!
    for (const ae of ['', 'gzip', 'br']) {
      const res = await pub('/status/enc', { 'If-None-Match': etag, 'Accept-Encoding': ae })
      expect(res.status).toBe(304)
      expect(res.headers.get('etag')).toBe(etag)
      expect(res.headers.get('vary')).toBe('Accept-Encoding')
      expect(res.headers.get('content-encoding')).toBeNull()
      expect((await res.arrayBuffer()).byteLength).toBe(0)
    }
  })

  it('an incident update and a component change drop every encoding of the page at once', async () => {
    const decoded = async (ae: string, path = '/status/enc') => {
      const res = await pub(path, { 'Accept-Encoding': ae })
      const b = await bytes(res)
      const enc = res.headers.get('content-encoding')
      return (enc === 'br' ? brotliDecompressSync(b) : enc === 'gzip' ? gunzipSync(b) : b).toString('utf8')
    }
    for (const ae of ['', 'gzip', 'br']) expect(await decoded(ae)).not.toContain('Second blip')
    const inc = await t.json(
      'POST',
      `/api/v1/status-pages/${pageId}/incidents`,
      { title: 'Second blip', message: 'Again.' },
      admin,
    )
    expect(inc.status).toBe(201)
    for (const ae of ['', 'gzip', 'br']) expect(await decoded(ae)).toContain('Second blip')
    for (const ae of ['', 'gzip', 'br']) expect(await decoded(ae, '/status/enc/feed.atom')).toContain('Second blip')
    const before = JSON.parse(await decoded('br', '/status/enc.json')) as Json
    expect(before.groups[0].components[0].status).toBe('unknown')
    expect((await pub(`/api/v1/push/${comp.push.token}?status=down&msg=x`)).status).toBe(200)
    for (const ae of ['', 'gzip', 'br']) {
      const v = JSON.parse(await decoded(ae, '/status/enc.json')) as Json
      expect(v.groups[0].components[0].status).toBe('outage')
    }
  })

  it('every kept answer carries the page security headers and a request id of its own', async () => {
    const etag = (await pub('/status/enc')).headers.get('etag')!
    const asked: [string, Record<string, string>, number][] = [
      ['/status/enc', {}, 200],
      ['/status/enc', { 'Accept-Encoding': 'gzip' }, 200],
      ['/status/enc', { 'Accept-Encoding': 'br' }, 200],
      ['/status/enc', { 'If-None-Match': etag }, 304],
      ['/status/enc', { 'If-None-Match': etag }, 304],
      ['/status/enc.json', { 'Accept-Encoding': 'br' }, 200],
      ['/status/enc/feed.atom', { 'Accept-Encoding': 'gzip' }, 200],
      ['/status/enc/feed.atom', { 'X-Request-Id': 'mine-1' }, 200],
    ]
    const ids = new Set<string>()
    for (const [path, headers, status] of asked) {
      const res = await pub(path, headers)
      expect(res.status).toBe(status)
      for (const [name, value] of pageHeaders) expect(res.headers.get(name), `${path} ${name}`).toBe(value)
      expect(res.headers.get('x-powered-by')).toBeNull()
      const id = res.headers.get('x-request-id')!
      expect(id).toBeTruthy()
      expect(ids.has(id)).toBe(false) // the kept headers are copied, never written to
      ids.add(id)
    }
    expect(ids.has('mine-1')).toBe(true)
    // The same set as any other page answer gets from the pipeline (here the 404).
    const other = await pub('/status/nope')
    for (const [name, value] of pageHeaders) expect(other.headers.get(name)).toBe(value)
  })

  it('parses each distinct Accept-Encoding once and still answers right when its memory is full', () => {
    const pick = encodingPicker(2)
    const headers = ['br', 'gzip', 'br;q=0, gzip', 'identity', 'gzip;q=0, br;q=0', '*', 'br']
    for (const h of [...headers, ...headers]) expect(pick(h)).toBe(pickEncoding(h))
    expect(pick(undefined)).toBe('identity')
  })

  it('an unknown slug is a 404 error answer, not a cached body', async () => {
    const res = await pub('/status/nope', { 'Accept-Encoding': 'br' })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(((await res.json()) as Json).error.code).toBe('not_found')
  })
})

describe('the caller is never read', () => {
  it('only the public status answers are anonymous', () => {
    const anon = routeTable(t.app).filter((r) => r.anonymous)
    expect(anon.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /status/:slug', 'GET /status/:slug/feed.atom'])
    for (const r of anon) expect(r.access).toBe('public')
  })

  it('a signed-in visitor, a bad key or an ended session gets the anonymous answer, with no cookie set', async () => {
    const anonymous = await bytes(await pub('/status/enc'))
    const s = await t.session('viewer')
    const withSession = await pub('/status/enc', { Cookie: s.headers.Cookie })
    expect(withSession.status).toBe(200)
    expect(withSession.headers.get('set-cookie')).toBeNull()
    expect((await bytes(withSession)).equals(anonymous)).toBe(true)
    const badKey = await pub('/status/enc', { Authorization: 'Bearer hs_not_a_key' })
    expect(badKey.status).toBe(200)
    expect((await bytes(badKey)).equals(anonymous)).toBe(true)
    const ended = await pub('/status/enc', { Cookie: 'hs_session=no-such-session' })
    expect(ended.status).toBe(200)
    expect(ended.headers.get('set-cookie')).toBeNull()
    // The same bad credentials are still refused where the caller matters.
    expect((await pub('/api/v1/whoami', { Authorization: 'Bearer hs_not_a_key' })).status).toBe(401)
    expect((await pub('/api/v1/whoami', { Cookie: s.headers.Cookie })).status).toBe(200)
  })
})
