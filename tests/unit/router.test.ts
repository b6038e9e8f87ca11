import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { staticFirstRouter, type StaticFirstRouter } from '../../app/lib/router.ts'

function app() {
  const a = new Hono({ router: staticFirstRouter() })
  const seen: string[] = []
  a.use(async (c, next) => {
    seen.push('mw')
    await next()
    c.header('X-Mw', '1')
  })
  a.post('/rules/:id/test', (c) => c.text(`test ${c.req.param('id')}`))
  a.post('/rules/test', (c) => c.text('test unsaved'))
  a.post('/rules/:id/enable', (c) => c.text(`enable ${c.req.param('id')}`))
  a.get('/alerts/:id', (c) => c.text(`alert ${c.req.param('id')}`))
  a.get('/alerts/rules', (c) => c.text('rules page'))
  a.get('/files/*', (c) => c.text(`file ${c.req.path}`))
  return { a, seen, router: a.router as StaticFirstRouter<unknown> }
}

describe('staticFirstRouter', () => {
  it('answers static paths beside a :param through RegExpRouter, static first', async () => {
    const { a, seen, router } = app()
    const text = async (method: string, path: string) => {
      const res = await a.request(path, { method })
      return [res.status, await res.text(), res.headers.get('x-mw')]
    }
    expect(await text('POST', '/rules/test')).toEqual([200, 'test unsaved', '1'])
    expect(await text('POST', '/rules/r1/test')).toEqual([200, 'test r1', '1'])
    expect(await text('POST', '/rules/r2/enable')).toEqual([200, 'enable r2', '1'])
    expect(await text('GET', '/alerts/rules')).toEqual([200, 'rules page', '1'])
    expect(await text('GET', '/alerts/a1')).toEqual([200, 'alert a1', '1'])
    expect(await text('GET', '/files/x/y.css')).toEqual([200, 'file /files/x/y.css', '1'])
    expect(await text('GET', '/rules/test')).toEqual([404, '404 Not Found', '1']) // only POST is static there
    expect((await a.request('/alerts/rules', { method: 'HEAD' })).status).toBe(200)
    expect(seen.length).toBe(8) // the middleware ran once per request, static or not
    expect(router.name).toBe('StaticFirstRouter + RegExpRouter')
    expect(router.fallback).toBeUndefined()
    expect(router.sideRoutes.sort()).toEqual(['GET /alerts/rules', 'POST /rules/test'])
  })

  it('falls back to TrieRouter and says why when RegExpRouter refuses a :param route', async () => {
    const a = new Hono({ router: staticFirstRouter() })
    a.post('/alerts/channels/:id/test', (c) => c.text('channel'))
    a.post('/alerts/:id/acknowledge', (c) => c.text(`ack ${c.req.param('id')}`))
    const res = await a.request('/alerts/a1/acknowledge', { method: 'POST' })
    expect(await res.text()).toBe('ack a1')
    const router = a.router as StaticFirstRouter<unknown>
    expect(router.name).toBe('StaticFirstRouter + TrieRouter')
    expect(router.fallback).toBe('POST /alerts/:id/acknowledge')
  })

  it('falls back when middleware comes after a route (its order could not be kept)', async () => {
    const a = new Hono({ router: staticFirstRouter() })
    a.get('/x', (c) => c.text('x'))
    a.use(async (_c, next) => next())
    expect(await (await a.request('/x')).text()).toBe('x')
    expect((a.router as StaticFirstRouter<unknown>).fallback).toMatch(/middleware after the first route/)
  })
})
