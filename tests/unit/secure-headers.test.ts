import { Hono } from 'hono'
import { secureHeaders } from 'hono/secure-headers'
import { describe, expect, it } from 'vitest'
import { apiHeaders, finishHeaders, PAGE_CSP, pageHeaders } from '../../app/middleware/secure-headers.ts'

/** The headers Hono's own secureHeaders middleware sets with these options. */
async function honoHeaders(options: Parameters<typeof secureHeaders>[0]) {
  const app = new Hono()
  app.use(secureHeaders(options))
  app.get('/', (c) => c.body(null, 204))
  const res = await app.request('/')
  return Object.fromEntries([...res.headers].filter(([name]) => name !== 'content-type'))
}

const lower = (list: readonly (readonly [string, string])[]) =>
  Object.fromEntries(list.map(([k, v]) => [k.toLowerCase(), v]))

describe('fixed security headers', () => {
  it('pages get what secureHeaders sets with the page CSP', async () => {
    expect(lower(pageHeaders)).toEqual(await honoHeaders({ contentSecurityPolicy: PAGE_CSP }))
  })

  it('JSON answers get what secureHeaders sets with the extra policies off', async () => {
    const off = {
      crossOriginEmbedderPolicy: false,
      crossOriginOpenerPolicy: false,
      crossOriginResourcePolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
    }
    expect(lower(apiHeaders)).toEqual(await honoHeaders(off))
  })

  it('sets them with the request id, drops X-Powered-By, and copies an immutable response', async () => {
    const res = finishHeaders(new Response('x', { headers: { 'X-Powered-By': 'me' } }), apiHeaders, 'req-1')
    expect(res.headers.get('x-request-id')).toBe('req-1')
    expect(res.headers.get('x-powered-by')).toBeNull()
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    const fetched = Response.redirect('http://example.com/', 302) // immutable headers
    const copy = finishHeaders(fetched, pageHeaders, 'req-2')
    expect(copy).not.toBe(fetched)
    expect(copy.status).toBe(302)
    expect(copy.headers.get('location')).toBe('http://example.com/')
    expect(copy.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
  })
})
