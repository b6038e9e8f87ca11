/**
 * Failover end to end: the real server (Bun, as `npm start` runs it) probing two fake Ollama hosts
 * every second. The primary starts failing → its breaker opens → the healing rule (breaker trigger,
 * model_failover) moves the route → agents reading GET /api/v1/model-routes/:name see the backup.
 * The primary recovers → half-open probes close its breaker → after failbackAfterMs the route is
 * back on it. Every wait is a poll with a deadline; nothing asserts on time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeModelHost, type FakeModelHost } from '../helpers/fake-model-host.ts'
import { cliKey, killAll, startServer, until, type RunningServer } from '../helpers/server.ts'

type Json = Record<string, any>
let server: RunningServer
let primary: FakeModelHost
let backup: FakeModelHost
let operator: string
let agent: string

beforeAll(async () => {
  primary = await startFakeModelHost({ models: ['llama3:8b'] })
  backup = await startFakeModelHost({ models: ['mistral:7b'] })
  server = await startServer({
    env: {
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
      IP_RATE_LIMIT_PER_SECOND: '100000',
      IP_RATE_LIMIT_BURST: '100000',
    },
  })
  operator = await cliKey(server, 'e2e-operator', 'operator')
  agent = await cliKey(server, 'e2e-agent', 'viewer', ['routes', 'breakers'])
}, 120_000)
afterAll(async () => {
  await killAll()
  await primary?.close()
  await backup?.close()
})

async function call(method: string, path: string, key: string, body?: unknown) {
  const res = await server.fetch(path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Json) : null }
}

describe('model route failover through the real server', () => {
  it('a failing primary is replaced by the backup, and traffic fails back once it is healthy again', async () => {
    const route = await call('POST', '/api/v1/model-routes', operator, {
      name: 'chat',
      targets: [
        { model: 'llama3:8b', host: primary.url },
        { model: 'mistral:7b', host: backup.url },
      ],
      failbackAfterMs: 1000,
      probePath: '/api/tags',
    })
    expect(route.status, JSON.stringify(route.json)).toBe(201)
    const primaryKey = route.json!.targets[0].breaker.key as string
    const rule = await call('POST', '/api/v1/healing/rules', operator, {
      name: 'fail over chat',
      trigger: { type: 'breaker', keyPattern: '^model:' },
      actionType: 'model_failover',
      target: 'chat',
      cooldownMs: 0,
      maxPerHour: 100,
    })
    expect(rule.status, JSON.stringify(rule.json)).toBe(201)

    // The probes (every second) find both targets healthy.
    await until(
      'both breakers closed',
      async () => {
        const r = await call('GET', '/api/v1/model-routes/chat', agent)
        return r.json!.targets.every((t: Json) => t.breaker.state === 'CLOSED') ? r : undefined
      },
      15_000,
    )
    const before = await call('GET', '/api/v1/model-routes/chat', agent)
    expect(before.json).toMatchObject({ activeIndex: 0, active: { model: 'llama3:8b', host: primary.url } })
    const etag = before.headers.get('etag')!
    expect(
      (
        await server.fetch('/api/v1/model-routes/chat', {
          headers: { authorization: `Bearer ${agent}`, 'if-none-match': etag },
        })
      ).status,
    ).toBe(304)

    primary.setMode('error')
    const switched = await until(
      'route on the backup',
      async () => {
        const r = await call('GET', '/api/v1/model-routes/chat', agent)
        return r.json!.activeIndex === 1 ? r : undefined
      },
      20_000,
      100,
    )
    expect(switched.json).toMatchObject({
      active: { model: 'mistral:7b', host: backup.url },
      targets: [{ healthy: false, breaker: { state: 'OPEN', lastError: 'status 500' } }, { healthy: true }],
    })
    expect(switched.headers.get('etag')).not.toBe(etag)

    const breaker = await call('GET', `/api/v1/healing/breakers/${encodeURIComponent(primaryKey)}`, operator)
    expect(breaker.json).toMatchObject({
      state: 'OPEN',
      events: [{ from: 'CLOSED', to: 'OPEN', reason: expect.stringContaining('failures in a row') }],
    })
    const actions = await until(
      'the failover action succeeded',
      async () => {
        const r = await call('GET', '/api/v1/healing/actions?target=chat', operator)
        return r.json!.items.find((a: Json) => a.actionType === 'model_failover' && a.status === 'SUCCESS')
          ? r
          : undefined
      },
      10_000,
    )
    expect(actions.json!.items[0]).toMatchObject({ actionType: 'model_failover', target: 'chat' })

    primary.setMode('ok')
    const back = await until(
      'route back on the primary',
      async () => {
        const r = await call('GET', '/api/v1/model-routes/chat', agent)
        return r.json!.activeIndex === 0 ? r : undefined
      },
      40_000,
      200,
    )
    expect(back.json).toMatchObject({
      active: { model: 'llama3:8b', breakerState: 'CLOSED' },
      changeReason: expect.stringContaining('failback'),
    })
    const history = await call('GET', '/api/v1/model-routes/chat/events', operator)
    expect(history.json!.items.map((e: Json) => [e.from, e.to, e.actor])).toEqual([
      [1, 0, 'system:failback'],
      [0, 1, expect.stringMatching(/^healing:/)],
    ])
    const closed = await call('GET', `/api/v1/healing/breakers/${encodeURIComponent(primaryKey)}`, operator)
    expect(closed.json!.events.map((e: Json) => `${e.from}>${e.to}`)).toEqual([
      'HALF_OPEN>CLOSED',
      'OPEN>HALF_OPEN',
      'CLOSED>OPEN',
    ])
  }, 120_000)
})
