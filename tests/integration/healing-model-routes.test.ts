import { asc, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import { getBreaker, targetBreakerKey } from '../../app/modules/healing/breakers/breakers.ts'
import { getRouteByName, routesOnBreaker } from '../../app/modules/healing/model-routes/model-routes.ts'
import { runProbes } from '../../app/modules/healing/model-routes/probes.ts'
import { modelRouteEvents } from '../../db/schema/healing.ts'
import { modelRouteProbesJob, probeTimeoutMs } from '../../jobs/model-route-probes.ts'
import { startFakeModelHost, type FakeModelHost } from '../helpers/fake-model-host.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'

type Json = Record<string, any>
let n = 0
const routeName = () => `route-${++n}`
const host = (i: number) => `http://10.0.0.${i}:11434`

const t = await testApp()
afterAll(() => t.close())
const { op, viewer, ingest } = await roleHeaders(t)

async function create(body: Json) {
  const res = await t.json('POST', '/api/v1/model-routes', body, op)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Json
}
const get = (name: string, headers: Record<string, string> = viewer) =>
  t.app.request(`/api/v1/model-routes/${name}`, { headers })
const openBreaker = async (key: string, now = Date.now()) => {
  for (let i = 0; i < 3; i++) await t.services.healing.breakers.report(key, { ok: false, error: 'down' }, now)
}
const events = async (name: string) => {
  const r = (await getRouteByName(t.db, name))!
  return t.db
    .select()
    .from(modelRouteEvents)
    .where(eq(modelRouteEvents.routeId, r.id))
    .orderBy(asc(modelRouteEvents.id))
}

describe('model routes CRUD', () => {
  it('creates, reads, lists, changes and deletes a route', async () => {
    const name = routeName()
    const created = await create({
      name,
      description: 'chat',
      targets: [
        { model: 'llama3:8b', host: `${host(1)}/` },
        { model: 'mistral:7b', host: host(2), weight: 5 },
      ],
      failbackAfterMs: 30_000,
      probePath: '/api/tags',
    })
    expect(created).toMatchObject({
      name,
      version: 1,
      activeIndex: 0,
      active: { model: 'llama3:8b', host: host(1), healthy: true, breakerState: null },
      targets: [
        { index: 0, active: true, breaker: { key: `model:${host(1)}/llama3:8b`, state: null } },
        { index: 1, model: 'mistral:7b', weight: 5, active: false },
      ],
      failbackAfterMs: 30_000,
      probePath: '/api/tags',
      changeReason: 'created',
    })
    expect(
      (await t.json('POST', '/api/v1/model-routes', { name, targets: [{ model: 'x', host: host(3) }] }, op)).status,
    ).toBe(409)

    const list = (await (await t.app.request('/api/v1/model-routes', { headers: viewer })).json()) as Json
    expect(list.items.map((r: Json) => r.name)).toContain(name)

    let res = await t.json(
      'PATCH',
      `/api/v1/model-routes/${name}`,
      { failbackAfterMs: 1000, description: 'changed' },
      op,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ version: 2, failbackAfterMs: 1000, description: 'changed' })

    // New targets: the active one stays active at its new place.
    await t.services.healing.modelRoutes.failover(name, { reason: 'test', actor: 'test', now: Date.now() })
    res = await t.json(
      'PATCH',
      `/api/v1/model-routes/${name}`,
      {
        targets: [
          { model: 'qwen:4b', host: host(3) },
          { model: 'mistral:7b', host: host(2) },
        ],
      },
      op,
    )
    expect(await res.json()).toMatchObject({ activeIndex: 1, active: { model: 'mistral:7b' } })
    // The active one removed: back to target 0, recorded.
    res = await t.json('PATCH', `/api/v1/model-routes/${name}`, { targets: [{ model: 'qwen:4b', host: host(3) }] }, op)
    expect(await res.json()).toMatchObject({
      activeIndex: 0,
      changeReason: 'targets changed: the active target was removed',
    })
    expect((await events(name)).at(-1)).toMatchObject({ fromIndex: 1, toIndex: 0 })

    res = await t.app.request(`/api/v1/model-routes/${name}`, { method: 'DELETE', headers: op })
    expect(res.status).toBe(204)
    expect((await get(name)).status).toBe(404)
    const audited = await t.client.execute({
      sql: "select action from audit_log where target = ? and action like 'model_route.%' order by id",
      args: [name],
    })
    expect(audited.rows.map((r) => r.action)).toEqual([
      'model_route.created',
      'model_route.updated',
      'model_route.updated',
      'model_route.updated',
      'model_route.deleted',
    ])
  })

  it('refuses bad input with a 400 naming the field', async () => {
    const good = { name: routeName(), targets: [{ model: 'llama3:8b', host: host(1) }] }
    const cases: [Json, string][] = [
      [{ ...good, name: 'has space' }, 'name'],
      [{ ...good, name: '' }, 'name'],
      [{ ...good, targets: [] }, 'targets'],
      [{ ...good, targets: [{ model: 'a', host: 'ftp://x' }] }, 'targets.0.host'],
      [{ ...good, targets: [{ model: 'a', host: 'http://u:p@x:1' }] }, 'targets.0.host'],
      [{ ...good, targets: [{ model: '', host: host(1) }] }, 'targets.0.model'],
      [{ ...good, targets: [{ model: 'a', host: host(1), weight: -1 }] }, 'targets.0.weight'],
      [
        {
          ...good,
          targets: [
            { model: 'a', host: host(1) },
            { model: 'a', host: `${host(1)}/` },
          ],
        },
        'targets',
      ],
      [{ ...good, targets: Array.from({ length: 21 }, (_, i) => ({ model: `m${i}`, host: host(1) })) }, 'targets'],
      [{ ...good, failbackAfterMs: -5 }, 'failbackAfterMs'],
      [{ ...good, failbackAfterMs: 1.5 }, 'failbackAfterMs'],
      [{ ...good, probePath: 'api/tags' }, 'probePath'],
      [{ ...good, surprise: true }, 'surprise'],
    ]
    for (const [body, field] of cases) {
      const res = await t.json('POST', '/api/v1/model-routes', body, op)
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(((await res.json()) as Json).error.details.map((d: Json) => d.field)).toContain(field)
    }
    expect((await t.app.request('/api/v1/model-routes/bad%20name', { headers: viewer })).status).toBe(400)
    expect((await t.json('PATCH', '/api/v1/model-routes/no-such-route', { description: 'x' }, op)).status).toBe(404)
    const name = (await create(good)).name
    const res = await t.json('POST', `/api/v1/model-routes/${name}/failback`, { toIndex: 3 }, op)
    expect(res.status).toBe(400)
    expect(((await res.json()) as Json).error.details).toMatchObject([{ field: 'toIndex' }])
    expect((await t.json('POST', `/api/v1/model-routes/${name}/failback`, {}, op)).status).toBe(409) // already on 0
  })

  it('access: viewers and routes keys read one route (ingest keys not); only operators change routes', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(1) },
          { model: 'b', host: host(2) },
        ],
      })
    ).name
    expect((await get(name, ingest)).status).toBe(403)
    const agent = (await t.key('viewer', ['routes', 'breakers'])).headers
    expect((await get(name, agent)).status).toBe(200)
    expect((await get(name, viewer)).status).toBe(200)
    expect((await t.app.request('/api/v1/model-routes', { headers: agent })).status).toBe(403)
    expect((await t.json('POST', `/api/v1/model-routes/${name}/failover`, {}, viewer)).status).toBe(403)
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/model-routes',
          { name: routeName(), targets: [{ model: 'a', host: host(1) }] },
          viewer,
        )
      ).status,
    ).toBe(403)
    expect((await t.app.request(`/api/v1/model-routes/${name}`)).status).toBe(401)
  })
})

describe('the agents read: ETag and 304', () => {
  it('answers with a strong ETag and Cache-Control; If-None-Match gives 304 until the route or a breaker changes', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(11) },
          { model: 'b', host: host(12) },
        ],
      })
    ).name
    const first = await get(name)
    expect(first.status).toBe(200)
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^"1\.NN"$/)
    expect(first.headers.get('cache-control')).toBe('private, max-age=1')
    expect(first.headers.get('content-type')).toContain('application/json')

    const again = await get(name, { ...viewer, 'If-None-Match': etag })
    expect(again.status).toBe(304)
    expect(again.headers.get('etag')).toBe(etag)
    expect(await again.text()).toBe('')
    expect((await get(name, { ...viewer, 'If-None-Match': `"other", W/${etag}` })).status).toBe(304)
    expect((await get(name, { ...viewer, 'If-None-Match': '"0.NN"' })).status).toBe(200)

    // A breaker changing state (reported through the API) changes the ETag at once.
    await t.json(
      'POST',
      `/api/v1/healing/breakers/${encodeURIComponent(`model:${host(12)}/b`)}/report`,
      { ok: true },
      op,
    )
    const afterReport = await get(name, { ...viewer, 'If-None-Match': etag })
    expect(afterReport.status).toBe(200)
    const etag2 = afterReport.headers.get('etag')!
    expect(etag2).toBe('"1.NC"')
    // A failover bumps the version.
    await t.json('POST', `/api/v1/model-routes/${name}/failover`, { reason: 'maintenance' }, op)
    const moved = await get(name, { ...viewer, 'If-None-Match': etag2 })
    expect(moved.status).toBe(200)
    expect(moved.headers.get('etag')).toBe('"2.NC"')
    expect(await moved.json()).toMatchObject({
      version: 2,
      activeIndex: 1,
      active: { model: 'b', host: host(12), breakerState: 'CLOSED' },
      changeReason: expect.stringContaining('maintenance'),
    })
  })

  it('shows unhealthy targets even when no rule acts on them', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(21) },
          { model: 'b', host: host(22) },
        ],
      })
    ).name
    await openBreaker(`model:${host(21)}/a`)
    const body = (await (await get(name)).json()) as Json
    expect(body).toMatchObject({
      activeIndex: 0,
      activeOpen: true,
      active: { healthy: false, breakerState: 'OPEN' },
      targets: [{ healthy: false, breaker: { state: 'OPEN', lastError: 'down' } }, { healthy: true }],
    })
    expect((await get(name)).headers.get('etag')).toBe('"1.ON"')
  })
})

describe('failover and failback', () => {
  it('failover skips open (and half-open) targets, wraps round, and is null when none is healthy', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(31) },
          { model: 'b', host: host(32) },
          { model: 'c', host: host(33) },
        ],
      })
    ).name
    const [ka, kb, kc] = ['a', 'b', 'c'].map((m, i) => targetBreakerKey({ model: m, host: host(31 + i) }))
    const now = Date.now()
    await openBreaker(ka!, now)
    await openBreaker(kb!, now)
    expect(await t.services.healing.modelRoutes.failover(name, { reason: 'a down', actor: 'test', now })).toEqual({
      from: 0,
      to: 2,
    })
    expect(await routesOnBreaker(t.db, kc!)).toEqual([name])
    // A breaker for a target not in use: ifActiveKey leaves the route where it is.
    expect(
      await t.services.healing.modelRoutes.failover(name, { reason: 'b', actor: 'test', now, ifActiveKey: kb! }),
    ).toEqual({
      from: 2,
      to: 2,
    })
    await openBreaker(kc!, now)
    expect(await t.services.healing.modelRoutes.failover(name, { reason: 'c down', actor: 'test', now })).toBeNull()
    expect((await getRouteByName(t.db, name))!).toMatchObject({ activeIndex: 2, version: 2 })
    // a half-open: still not a candidate
    const a = (await getBreaker(t.db, ka!))!
    await t.services.healing.breakers.report(ka!, { ok: true }, a.retryAt!)
    expect((await getBreaker(t.db, ka!))!.state).toBe('HALF_OPEN')
    expect(await t.services.healing.modelRoutes.failover(name, { reason: 'c down', actor: 'test', now })).toBeNull()
    const res = await t.json('POST', `/api/v1/model-routes/${name}/failover`, {}, op)
    expect(res.status).toBe(409)
    expect(((await res.json()) as Json).error.code).toBe('no_healthy_target')
    // closes → the wrap finds it
    for (let i = 1; i < 3; i++) await t.services.healing.breakers.report(ka!, { ok: true }, a.retryAt! + i)
    expect(await t.services.healing.modelRoutes.failover(name, { reason: 'c down', actor: 'test', now })).toEqual({
      from: 2,
      to: 0,
    })
    expect((await events(name)).map((e) => [e.fromIndex, e.toIndex, e.reason])).toEqual([
      [0, 2, 'a down'],
      [2, 0, 'c down'],
    ])
    expect(
      await t.services.healing.modelRoutes.failover('no-such-route', { reason: '', actor: 'test', now }),
    ).toBeNull()
  })

  it('manual failback returns to target 0 or a given index; the events API lists the history', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(41) },
          { model: 'b', host: host(42) },
          { model: 'c', host: host(43) },
        ],
      })
    ).name
    let res = await t.json('POST', `/api/v1/model-routes/${name}/failover`, { reason: 'drill' }, op)
    expect(await res.json()).toMatchObject({ from: 0, to: 1, route: { activeIndex: 1 } })
    res = await t.json('POST', `/api/v1/model-routes/${name}/failback`, { toIndex: 2 }, op)
    expect(await res.json()).toMatchObject({ from: 1, to: 2 })
    res = await t.json('POST', `/api/v1/model-routes/${name}/failback`, { reason: 'drill over' }, op)
    expect(await res.json()).toMatchObject({ from: 2, to: 0, route: { activeIndex: 0, version: 4 } })
    expect(
      await t.services.healing.modelRoutes.failback(name, { reason: 'x', actor: 'test', now: Date.now() }),
    ).toBeNull()
    const history = (await (
      await t.app.request(`/api/v1/model-routes/${name}/events?limit=2`, { headers: viewer })
    ).json()) as Json
    expect(history.items).toMatchObject([
      { from: 2, to: 0, reason: expect.stringContaining('drill over'), actor: expect.stringMatching(/^key:/) },
      { from: 1, to: 2 },
    ])
    expect(history.next).not.toBeNull()
  })

  it('fails back automatically once the primary has been closed with successful probes for failbackAfterMs', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(51) },
          { model: 'b', host: host(52) },
        ],
        failbackAfterMs: 10_000,
      })
    ).name
    const ka = targetBreakerKey({ model: 'a', host: host(51) })
    const t0 = Date.now() + 100_000
    await openBreaker(ka, t0)
    await t.services.healing.modelRoutes.failover(name, { reason: 'a down', actor: 'test', now: t0 })
    const retryAt = (await getBreaker(t.db, ka))!.retryAt!
    expect(await t.services.healing.modelRoutes.runFailbacks(retryAt)).toBe(0) // still open
    for (let i = 0; i < 3; i++) await t.services.healing.breakers.report(ka, { ok: true }, retryAt + i * 1000) // half-open → closed at +2 s
    const closedAt = retryAt + 2000
    expect(await t.services.healing.modelRoutes.runFailbacks(closedAt + 9_999)).toBe(0)
    // a failure while closed restarts the healthy period
    await t.services.healing.breakers.report(ka, { ok: false, error: 'blip' }, closedAt + 5000)
    expect(await t.services.healing.modelRoutes.runFailbacks(closedAt + 10_000)).toBe(0)
    expect(await t.services.healing.modelRoutes.runFailbacks(closedAt + 5001 + 10_000)).toBe(1)
    expect(await getRouteByName(t.db, name)).toMatchObject({
      activeIndex: 0,
      changeReason: expect.stringMatching(/^failback: a on http:\/\/10\.0\.0\.51:11434 healthy for \d+ s/),
    })
    expect((await events(name)).at(-1)).toMatchObject({ fromIndex: 1, toIndex: 0, actor: 'system:failback' })
  })

  it('leaves a route a person failed over where they put it', async () => {
    const name = (
      await create({
        name: routeName(),
        targets: [
          { model: 'a', host: host(61) },
          { model: 'b', host: host(62) },
        ],
        failbackAfterMs: 0,
      })
    ).name
    const ka = targetBreakerKey({ model: 'a', host: host(61) })
    const t0 = Date.now() + 200_000
    await t.services.healing.breakers.report(ka, { ok: true }, t0)
    expect(
      (await t.json('POST', `/api/v1/model-routes/${name}/failover`, { reason: 'maintenance on a' }, op)).status,
    ).toBe(200)
    expect(await t.services.healing.modelRoutes.runFailbacks(t0 + 3_600_000)).toBe(0)
    expect((await getRouteByName(t.db, name))!.activeIndex).toBe(1)
  })
})

describe('probes (model-route-probes job) against a fake Ollama', () => {
  let primary: FakeModelHost
  let backup: FakeModelHost
  beforeAll(async () => {
    primary = await startFakeModelHost({ models: ['llama3:8b'] })
    backup = await startFakeModelHost({ models: ['mistral:7b'] })
  })
  afterAll(async () => {
    await primary.close()
    await backup.close()
  })

  it('the fake host answers like Ollama and can be switched to fail', async () => {
    expect(await (await fetch(`${primary.url}/api/tags`)).json()).toMatchObject({ models: [{ name: 'llama3:8b' }] })
    const gen = await fetch(`${primary.url}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3:8b', prompt: 'hi', stream: false }),
    })
    expect(await gen.json()).toMatchObject({ model: 'llama3:8b', response: expect.any(String), done: true })
    const chat = await fetch(`${primary.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3:8b', messages: [{ role: 'user', content: 'hi' }], stream: false }),
    })
    expect(await chat.json()).toMatchObject({ message: { role: 'assistant' }, done: true })
    primary.setMode('error')
    expect((await fetch(`${primary.url}/api/tags`)).status).toBe(500)
    primary.setMode('ok')
  })

  it('probes every target with a probe path, opens the breaker of a failing (or hanging) one, kicks healing, and fails back after recovery', async () => {
    const name = routeName()
    await create({
      name,
      targets: [
        { model: 'llama3:8b', host: primary.url },
        { model: 'mistral:7b', host: backup.url },
      ],
      failbackAfterMs: 2000,
      probePath: '/api/tags',
    })
    const kicks: string[] = []
    const log = createLogger('silent')
    const job = modelRouteProbesJob({ healing: t.services.healing, intervalSeconds: 1 })
    expect(job).toMatchObject({ name: 'model-route-probes', schedule: '* * * * * *' })
    const tick = (now: number) =>
      runProbes({ ...t.services.healing, timeoutMs: 300, onOpen: (key) => kicks.push(key) }, now)
    const kp = targetBreakerKey({ model: 'llama3:8b', host: primary.url })
    let now = Date.now() + 1_000_000
    // A healthy tick probes but asks for no job_runs row (a quiet job).
    expect(await job.handler({ now, tick: now, log })).toEqual({})
    expect((await getBreaker(t.db, kp))!.lastSuccessAt).toBe(now)
    expect((await getBreaker(t.db, kp))!.state).toBe('CLOSED')

    primary.setMode('hang')
    for (let i = 0; i < 2; i++) expect(await tick((now += 1000))).toMatchObject({ failed: 1, opened: 0 })
    primary.setMode('error')
    expect(await tick((now += 1000))).toMatchObject({ failed: 1, opened: 1 })
    expect(kicks).toEqual([kp])
    expect((await getBreaker(t.db, kp))!).toMatchObject({ state: 'OPEN', lastError: 'status 500' })
    expect(((await (await get(name)).json()) as Json).targets[0]).toMatchObject({
      healthy: false,
      breaker: { state: 'OPEN' },
    })
    // The healing rule would do this; here by hand.
    await t.services.healing.modelRoutes.failover(name, { reason: 'primary down', actor: 'test', now, ifActiveKey: kp })

    primary.setMode('ok')
    const retryAt = (await getBreaker(t.db, kp))!.retryAt!
    now = retryAt
    for (let i = 0; i < 3; i++, now += 1000) await tick(now) // half-open, 3 successes → closed
    expect((await getBreaker(t.db, kp))!.state).toBe('CLOSED')
    expect((await getRouteByName(t.db, name))!.activeIndex).toBe(1)
    let back = 0
    for (let i = 0; i < 3 && !back; i++, now += 1000) back = (await tick(now)).failedBack
    expect(back).toBe(1)
    expect((await getRouteByName(t.db, name))!).toMatchObject({
      activeIndex: 0,
      changeReason: expect.stringContaining('failback'),
    })
  })

  it('routes without a probe path are not probed', async () => {
    const quiet = await startFakeModelHost()
    try {
      await create({ name: routeName(), targets: [{ model: 'llama3:8b', host: quiet.url }] })
      await runProbes({ ...t.services.healing, timeoutMs: 300 }, Date.now())
      expect(quiet.counts.total).toBe(0)
    } finally {
      await quiet.close()
    }
  })
})

describe('configuration', () => {
  it('MODEL_ROUTE_PROBE_INTERVAL_SECONDS: 1 by default, 0 turns the job off, out of range is refused by name', async () => {
    const { loadConfig } = await import('../../app/config.ts')
    expect(loadConfig({}).MODEL_ROUTE_PROBE_INTERVAL_SECONDS).toBe(1)
    expect(() => loadConfig({ MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '60' })).toThrow(
      /MODEL_ROUTE_PROBE_INTERVAL_SECONDS="60": must be a whole number from 0 to 59/,
    )
    expect(modelRouteProbesJob({ healing: t.services.healing, intervalSeconds: 5 }).schedule).toBe('*/5 * * * * *')
    expect(probeTimeoutMs(1)).toBe(800)
    expect(probeTimeoutMs(10)).toBe(2000)
    const off = await testApp({ MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '0' })
    try {
      await expect(off.scheduler.runTick('model-route-probes')).rejects.toThrow(/No job named model-route-probes/)
      expect(await t.scheduler.runTick('model-route-probes')).toBe('ran')
    } finally {
      off.close()
    }
  })
})
