import { afterAll, describe, expect, it } from 'vitest'
import { roleHeaders, testApp } from '../helpers/app.ts'

type Json = Record<string, any>
let n = 0
const routeName = () => `weighted-${++n}`
const host = (i: number) => `http://10.0.1.${i}:11434`
const READS = 10_000
/** 90/10 over 10,000 reads: one binomial standard deviation is 0.3 points, ±1.5 points is 5 of them. */
const TOLERANCE = 1.5

const t = await testApp()
afterAll(() => t.close())
const { op } = await roleHeaders(t)
const agent = (await t.key('viewer', ['routes', 'breakers'])).headers

async function create(targets: Json[], name = routeName()) {
  const res = await t.json('POST', '/api/v1/model-routes', { name, targets }, op)
  expect(res.status, await res.clone().text()).toBe(201)
  return name
}
const read = (name: string, headers: Record<string, string> = {}, query = '') =>
  t.app.request(`/api/v1/model-routes/${name}${query}`, { headers: { ...agent, ...headers } })
/** The index of the target a caller is sent to (the agents' read: `active`). */
async function pickOf(name: string, key?: string) {
  const res = await read(name, key === undefined ? {} : { 'X-Caller-Key': key })
  expect(res.status).toBe(200)
  const body = (await res.json()) as Json
  expect(body.active.model).toBe(body.targets[body.activeIndex].model)
  return body.activeIndex as number
}
const counts = (picks: number[], size: number) => {
  const c = Array.from({ length: size }, () => 0)
  for (const p of picks) c[p]!++
  return c
}
const percent = (count: number, of: number) => (100 * count) / of
const setBreaker = async (key: string, ok: boolean) => {
  // 3 failures open a breaker; closing one again goes through half-open, so reset it instead.
  if (ok) await t.services.healing.breakers.reset(key, { actor: 'test', now: Date.now() })
  else
    for (let i = 0; i < 3; i++) await t.services.healing.breakers.report(key, { ok: false, error: 'down' }, Date.now())
}
const canary = async () =>
  create([
    { model: 'prod', host: host(1), weight: 90 },
    { model: 'canary', host: host(2), weight: 10 },
  ])
const keys = Array.from({ length: READS }, (_, i) => `caller-${i}`)

describe('weighted routes: the split', () => {
  it('splits 10,000 keyed reads 90/10 within ±1.5 points, through the real API', async () => {
    const name = await canary()
    const picks: number[] = []
    for (const key of keys) picks.push(await pickOf(name, key))
    const [prod, can] = counts(picks, 2)
    expect(prod! + can!).toBe(READS)
    expect(Math.abs(percent(can!, READS) - 10)).toBeLessThanOrEqual(TOLERANCE)
  })

  it('splits 10,000 reads without a key 90/10 (weighted random) within ±1.5 points', async () => {
    const name = await canary()
    const picks: number[] = []
    for (let i = 0; i < READS; i++) picks.push(await pickOf(name))
    const [, can] = counts(picks, 2)
    expect(Math.abs(percent(can!, READS) - 10)).toBeLessThanOrEqual(TOLERANCE)
  })

  it('a three-way split 50/30/20 holds for 10,000 keys; targets without a weight get nothing', async () => {
    const name = await create([
      { model: 'a', host: host(3), weight: 5 },
      { model: 'b', host: host(4), weight: 3 },
      { model: 'standby', host: host(5) },
      { model: 'c', host: host(6), weight: 2 },
    ])
    const picks: number[] = []
    for (const key of keys) picks.push(await pickOf(name, key))
    const c = counts(picks, 4)
    expect(c[2]).toBe(0)
    expect(Math.abs(percent(c[0]!, READS) - 50)).toBeLessThanOrEqual(TOLERANCE)
    expect(Math.abs(percent(c[1]!, READS) - 30)).toBeLessThanOrEqual(TOLERANCE)
    expect(Math.abs(percent(c[3]!, READS) - 20)).toBeLessThanOrEqual(TOLERANCE)
  })
})

describe('weighted routes: stickiness, ETag and caching', () => {
  it('the same key always gets the same target; the header and ?key= agree', async () => {
    const name = await canary()
    const first = new Map<string, number>()
    for (const key of keys.slice(0, 300)) first.set(key, await pickOf(name, key))
    // Both targets occur among 300 keys (≈30 on the canary), and every key repeats its answer.
    expect(new Set(first.values()).size).toBe(2)
    for (const [key, pick] of first) {
      expect(await pickOf(name, key)).toBe(pick)
      const q = (await (await read(name, {}, `?key=${encodeURIComponent(key)}`)).json()) as Json
      expect(q.activeIndex).toBe(pick)
    }
    // The header wins over the query when both are sent.
    const onCanary = [...first].find(([, p]) => p === 1)![0]
    const onProd = [...first].find(([, p]) => p === 0)![0]
    const both = (await (await read(name, { 'X-Caller-Key': onCanary }, `?key=${onProd}`)).json()) as Json
    expect(both.activeIndex).toBe(1)
  })

  it('answers carry weighted, a per-target ETag, Vary, and 304 while the caller’s target is unchanged', async () => {
    const name = await canary()
    const keyOn = async (target: number) => {
      for (const key of keys) if ((await pickOf(name, key)) === target) return key
      throw new Error('no key for target')
    }
    const k0 = await keyOn(0)
    const k1 = await keyOn(1)
    const r0 = await read(name, { 'X-Caller-Key': k0 })
    const r1 = await read(name, { 'X-Caller-Key': k1 })
    expect(r0.headers.get('etag')).toBe('"1.NN.0"')
    expect(r1.headers.get('etag')).toBe('"1.NN.1"')
    expect(r0.headers.get('vary')).toBe('X-Caller-Key')
    const b1 = (await r1.json()) as Json
    expect(b1).toMatchObject({
      weighted: true,
      activeIndex: 1,
      active: { model: 'canary', host: host(2), weight: 10, healthy: true },
      targets: [{ active: false }, { active: true }],
    })
    expect((await read(name, { 'X-Caller-Key': k0, 'If-None-Match': '"1.NN.0"' })).status).toBe(304)
    // Another caller's ETag is not this caller's answer.
    expect((await read(name, { 'X-Caller-Key': k0, 'If-None-Match': '"1.NN.1"' })).status).toBe(200)
    // A change of the route (new weights) is a new version: 200 with a new ETag.
    const patched = await t.json(
      'PATCH',
      `/api/v1/model-routes/${name}`,
      {
        targets: [
          { model: 'prod', host: host(1), weight: 0 },
          { model: 'canary', host: host(2), weight: 100 },
        ],
      },
      op,
    )
    expect(patched.status).toBe(200)
    const after = await read(name, { 'X-Caller-Key': k0, 'If-None-Match': '"1.NN.0"' })
    expect(after.status).toBe(200)
    expect(after.headers.get('etag')).toBe('"2.NN.1"')
    expect(((await after.json()) as Json).active.model).toBe('canary')
  })

  it('routes without weights answer as before: the active target for every key, no Vary, the same ETag', async () => {
    const name = await create([
      { model: 'a', host: host(7) },
      { model: 'b', host: host(8) },
    ])
    for (const key of ['x', 'y', 'z']) {
      const res = await read(name, { 'X-Caller-Key': key })
      expect(res.headers.get('etag')).toBe('"1.NN"')
      expect(res.headers.get('vary')).toBeNull()
      expect(await res.json()).toMatchObject({ weighted: false, activeIndex: 0, active: { model: 'a' } })
    }
    await t.json('POST', `/api/v1/model-routes/${name}/failover`, { reason: 'test' }, op)
    expect(await (await read(name, { 'X-Caller-Key': 'x' })).json()).toMatchObject({ activeIndex: 1 })
    expect(await pickOf(name)).toBe(1)
  })
})

describe('weighted routes: failover', () => {
  it('a failed target drops out of the split; its callers move, the others stay; recovery restores the split', async () => {
    const name = await canary()
    const sample = keys.slice(0, 1000)
    const before = new Map<string, number>()
    for (const key of sample) before.set(key, await pickOf(name, key))
    const prodKey = `model:${host(1)}/prod`

    await setBreaker(prodKey, false)
    const down = await read(name, { 'X-Caller-Key': sample[0]! })
    expect(down.headers.get('etag')).toMatch(/^"1\.ON\.1"$/)
    for (const key of sample) expect(await pickOf(name, key)).toBe(1)

    await setBreaker(prodKey, true)
    for (const key of sample) expect(await pickOf(name, key)).toBe(before.get(key))
  })

  it('rendezvous: when the canary fails only its callers move', async () => {
    const name = await create([
      { model: 'a', host: host(9), weight: 60 },
      { model: 'b', host: host(10), weight: 30 },
      { model: 'c', host: host(11), weight: 10 },
    ])
    const sample = keys.slice(0, 1000)
    const before = new Map<string, number>()
    for (const key of sample) before.set(key, await pickOf(name, key))
    await setBreaker(`model:${host(11)}/c`, false)
    for (const key of sample) {
      const now = await pickOf(name, key)
      if (before.get(key) !== 2) expect(now).toBe(before.get(key))
      else expect(now).not.toBe(2)
    }
  })

  it('no weighted target healthy: the first healthy standby; nothing healthy: the split, marked unhealthy', async () => {
    const name = await create([
      { model: 'w1', host: host(12), weight: 1 },
      { model: 'spare1', host: host(13) },
      { model: 'spare2', host: host(14), weight: 0 },
      { model: 'w2', host: host(15), weight: 1 },
    ])
    await setBreaker(`model:${host(12)}/w1`, false)
    await setBreaker(`model:${host(15)}/w2`, false)
    for (const key of keys.slice(0, 50)) expect(await pickOf(name, key)).toBe(1)
    await setBreaker(`model:${host(13)}/spare1`, false)
    for (const key of keys.slice(0, 50)) expect(await pickOf(name, key)).toBe(2)
    await setBreaker(`model:${host(14)}/spare2`, false)
    const seen = new Set<number>()
    for (const key of keys.slice(0, 200)) {
      const body = (await (await read(name, { 'X-Caller-Key': key })).json()) as Json
      expect(body.active.healthy).toBe(false)
      seen.add(body.activeIndex)
    }
    expect([...seen].sort()).toEqual([0, 3])
  })

  it('the route page shows each target’s weight and share of callers now', async () => {
    const name = await create([
      { model: 'p', host: host(16), weight: 75 },
      { model: 'c', host: host(17), weight: 25 },
      { model: 's', host: host(18) },
    ])
    const page = async () => (await t.app.request(`/healing/routes/${name}`, { headers: op })).text()
    let html = await page()
    expect(html).toContain('weighted split')
    expect(html).toMatch(/data-share="0.7500">75 · 75.0 %/)
    expect(html).toMatch(/data-share="0.2500">25 · 25.0 %/)
    expect(html).toMatch(/data-share="0.0000">— · standby/)
    await setBreaker(`model:${host(16)}/p`, false)
    html = await page()
    expect(html).toMatch(/data-share="0.0000">75 · out \(unhealthy\)/)
    expect(html).toMatch(/data-share="1.0000">25 · 100.0 %/)
  })

  it('a failover action on a weighted route still moves its failover position (used by the API views)', async () => {
    const name = await canary()
    const res = await t.json('POST', `/api/v1/model-routes/${name}/failover`, { reason: 'maintenance' }, op)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ from: 0, to: 1, route: { activeIndex: 1, weighted: true } })
    // The agents' read still splits by weight: the failover position does not pin anyone.
    const picks = new Set<number>()
    for (const key of keys.slice(0, 300)) picks.add(await pickOf(name, key))
    expect([...picks].sort()).toEqual([0, 1])
  })
})

describe('weighted routes: validation', () => {
  it('refuses negative, fractional, too large and all-zero weights, naming the field', async () => {
    const cases: [Json[], string, RegExp][] = [
      [[{ model: 'a', host: host(20), weight: -1 }], 'targets.0.weight', /at least 0/],
      [[{ model: 'a', host: host(20), weight: 1.5 }], 'targets.0.weight', /whole/],
      [[{ model: 'a', host: host(20), weight: 1001 }], 'targets.0.weight', /at most 1000/],
      [[{ model: 'a', host: host(20), weight: '5' }], 'targets.0.weight', /number/],
      [
        [
          { model: 'a', host: host(20), weight: 0 },
          { model: 'b', host: host(21), weight: 0 },
        ],
        'targets',
        /must not all be 0/,
      ],
      [
        [
          { model: 'a', host: host(20), weight: 0 },
          { model: 'b', host: host(21) },
        ],
        'targets',
        /must not all be 0/,
      ],
    ]
    for (const [targets, field, message] of cases) {
      const res = await t.json('POST', '/api/v1/model-routes', { name: routeName(), targets }, op)
      expect(res.status, JSON.stringify(targets)).toBe(400)
      const details = ((await res.json()) as Json).error.details as Json[]
      expect(details.find((d) => d.field === field)?.message).toMatch(message)
    }
    const name = await canary()
    const res = await t.json(
      'PATCH',
      `/api/v1/model-routes/${name}`,
      { targets: [{ model: 'a', host: host(20), weight: 0 }] },
      op,
    )
    expect(res.status).toBe(400)
    expect(((await res.json()) as Json).error.details).toMatchObject([{ field: 'targets' }])
  })

  it('refuses a bad caller key naming X-Caller-Key or key', async () => {
    const name = await canary()
    let res = await read(name, { 'X-Caller-Key': 'k'.repeat(201) })
    expect(res.status).toBe(400)
    expect(((await res.json()) as Json).error.details).toMatchObject([{ field: 'X-Caller-Key' }])
    res = await read(name, {}, '?key=')
    expect(res.status).toBe(400)
    expect(((await res.json()) as Json).error.details).toMatchObject([{ field: 'key' }])
    // Other query parameters (cache busters) are left alone.
    expect((await read(name, {}, '?_=123')).status).toBe(200)
  })

  it('the new-route form refuses all-zero weights too', async () => {
    const res = await t.app.request('/healing/routes', {
      method: 'POST',
      headers: { ...op, 'content-type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: new URLSearchParams({
        name: routeName(),
        targets: `a ${host(30)} 0\nb ${host(31)} 0`,
      }).toString(),
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('must not all be 0')
  })
})
