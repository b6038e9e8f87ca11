import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StaticFirstRouter } from '../../app/lib/router.ts'
import { testApp } from '../helpers/app.ts'

/**
 * The whole app must route through RegExpRouter. A route it refuses (a `:param` route beside a
 * literal segment at the same place, e.g. `POST /x/:id/do` beside `POST /x/other/:id/do`) sends
 * every request through the slower TrieRouter: this test names the route that did it. Static paths
 * beside a `:param` (`POST /api/v1/alert-rules/test`) are fine: StaticFirstRouter answers them first.
 */
describe('the app router', () => {
  let t: Awaited<ReturnType<typeof testApp>>
  beforeAll(async () => {
    t = await testApp()
    await t.app.request('/health') // the router builds its matchers on the first request
  })
  afterAll(() => t.close())

  it('is RegExpRouter for every route, with no fallback to TrieRouter', () => {
    const router = t.app.router as StaticFirstRouter<unknown>
    expect(router.fallback).toBeUndefined()
    expect(router.name).toBe('StaticFirstRouter + RegExpRouter')
  })

  it('answers only static paths from its side table', () => {
    const router = t.app.router as StaticFirstRouter<unknown>
    for (const route of router.sideRoutes) expect(route).not.toMatch(/[:*]/)
    expect(router.sideRoutes).toContain('POST /api/v1/alert-rules/test')
  })

  it('still answers the paths beside a :param: the unsaved-rule test, silence preview and the alerts pages', async () => {
    const { headers } = await t.key('operator')
    const json = { ...headers, 'Content-Type': 'application/json' }
    const test = await t.app.request('/api/v1/alert-rules/test', { method: 'POST', headers: json, body: '{}' })
    expect(test.status).toBe(400) // reached the route: it names the missing fields
    expect(JSON.stringify(await test.json())).toMatch(/name|metric|kind/)
    const preview = await t.app.request('/api/v1/silences/preview', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ matchers: [{ label: 'a', op: '=', value: 'b' }] }),
    })
    expect(preview.status).toBe(200)
    expect(await preview.json()).toMatchObject({ count: 0, items: [] })
    const missing = await t.app.request('/api/v1/alert-rules/nope/test', { method: 'POST', headers: json, body: '{}' })
    expect(missing.status).toBe(404)
  })
})
