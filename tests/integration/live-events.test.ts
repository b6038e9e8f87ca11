import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppEnv, Principal } from '../../app/context.ts'
import { createChangeFeed, liveRoutes, topicAccess, topics, topicsFor } from '../../app/modules/live/index.ts'
import { type TestApp, testApp } from '../helpers/app.ts'
import { openEvents, serveLoopback } from '../helpers/sse.ts'

let t: TestApp
let server: Awaited<ReturnType<typeof serveLoopback>>
let ingest: Record<string, string>

beforeAll(async () => {
  t = await testApp()
  server = await serveLoopback(t)
  ingest = (await t.key('operator', ['ingest'])).headers
})
afterAll(async () => {
  await server.close()
  t.close()
})

const fire = (title: string, extra: Record<string, unknown> = {}) =>
  fetch(`${server.url}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...ingest },
    body: JSON.stringify({ title, severity: 'critical', status: 'firing', labels: { service: title }, ...extra }),
  }).then(async (res) => {
    expect(res.status).toBeLessThan(300)
    return ((await res.json()) as { alert: { id: string } }).alert
  })

describe('GET /events', () => {
  it('refuses a caller without credentials (401), with bad ones (401) and a scoped key (403)', async () => {
    const none = await fetch(`${server.url}/events`, { headers: { Accept: 'text/event-stream' } })
    expect(none.status).toBe(401)
    const bad = await fetch(`${server.url}/events`, { headers: { Authorization: 'Bearer hs_nope' } })
    expect(bad.status).toBe(401)
    const scoped = await fetch(`${server.url}/events`, { headers: ingest })
    expect(scoped.status).toBe(403)
    expect(((await scoped.json()) as { error: { code: string } }).error.code).toBe('forbidden')
  })

  it('answers 400 naming the topics field when it lists an unknown topic', async () => {
    const { headers } = await t.key('viewer')
    const res = await fetch(`${server.url}/events?topics=alerts,secrets`, { headers })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { details: { field: string }[] } }
    expect(body.error.details.map((d) => d.field)).toEqual(['topics'])
  })

  for (const role of ['viewer', 'operator', 'admin'] as const) {
    it(`streams an alert created through the API to a signed-in ${role}, with its id and nothing else`, async () => {
      const { headers } = await t.session(role)
      const stream = await openEvents(`${server.url}/events`, { Cookie: headers.Cookie })
      expect(stream.res.status).toBe(200)
      expect(stream.res.headers.get('content-type')).toContain('text/event-stream')
      const ready = await stream.next('ready')
      expect(ready?.retry).toBeGreaterThan(0)
      expect(JSON.parse(ready!.data)).toEqual({ topics: [...topics] })
      const alert = await fire(`live-${role}`)
      const event = await stream.next('alerts')
      // Only a topic and ids: no title, labels or other alert data travel on the stream.
      expect(JSON.parse(event!.data)).toEqual({ ids: [alert.id], more: false })
      expect(event!.data).not.toContain(`live-${role}`)
      stream.close()
    })
  }

  it('streams to an API key with a role, and tells of acknowledgements and resolutions', async () => {
    const op = await t.key('operator')
    const stream = await openEvents(`${server.url}/events?topics=alerts`, op.headers)
    await stream.next('ready')
    const alert = await fire('live-ack')
    expect(JSON.parse((await stream.next('alerts'))!.data).ids).toEqual([alert.id])
    const ack = await fetch(`${server.url}/api/v1/alerts/${alert.id}/acknowledge`, {
      method: 'POST',
      headers: op.headers,
    })
    expect(ack.status).toBe(200)
    expect(JSON.parse((await stream.next('alerts'))!.data).ids).toEqual([alert.id])
    await fire('live-ack', { status: 'resolved' })
    expect(JSON.parse((await stream.next('alerts'))!.data).ids).toEqual([alert.id])
    stream.close()
  })

  it('carries only the topics asked for', async () => {
    const { headers } = await t.key('viewer')
    const stream = await openEvents(`${server.url}/events?topics=runs`, headers)
    expect(JSON.parse((await stream.next('ready'))!.data)).toEqual({ topics: ['runs'] })
    await fire('live-not-for-runs')
    const run = await fetch(`${server.url}/api/v1/runs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...ingest },
      body: JSON.stringify({ id: 'live-run-1', goal: 'show live updates' }),
    })
    expect(run.status).toBeLessThan(300)
    // The alert fired first is not on this stream: the first event after `ready` is the run's.
    const event = await stream.next()
    expect(event?.event).toBe('runs')
    expect(JSON.parse(event!.data).ids).toEqual(['live-run-1'])
    stream.close()
  })

  it('coalesces a burst into one event per topic', async () => {
    const { headers } = await t.key('viewer')
    const stream = await openEvents(`${server.url}/events?topics=alerts`, headers)
    await stream.next('ready')
    const batch = Array.from({ length: 60 }, (_, i) => ({
      title: `burst ${i}`,
      severity: 'warning',
      status: 'firing',
      labels: { burst: String(i) },
    }))
    for (const b of batch) t.services.live.publish('alerts', [b.title])
    const event = JSON.parse((await stream.next('alerts'))!.data) as { ids: string[]; more: boolean }
    expect(event.ids).toHaveLength(50)
    expect(event.more).toBe(true)
    stream.close()
  })
})

describe('topics by role', () => {
  const principal = (role: Principal['role'], scopes: string[] = []): Principal => ({
    kind: 'key',
    id: `k-${role}`,
    name: role,
    role,
    scopes,
  })
  // Every live page is a viewer page today; a topic given a higher level is left out for lower roles.
  const levels = { ...topicAccess, backups: 'admin', runs: 'operator' } as const

  it('gives each role the topics its pages may read', () => {
    expect(topicsFor(principal('viewer'))).toEqual([...topics])
    expect(topicsFor(principal('viewer'), levels)).toEqual(topics.filter((x) => x !== 'backups' && x !== 'runs'))
    expect(topicsFor(principal('operator'), levels)).toEqual(topics.filter((x) => x !== 'backups'))
    expect(topicsFor(principal('admin'), levels)).toEqual([...topics])
  })

  it('gives a key limited to scopes no topic, whatever its role', () => {
    expect(topicsFor(principal('admin', ['ingest']))).toEqual([])
    expect(topicsFor(principal('operator', ['breakers']), levels)).toEqual([])
  })
})

describe('GET /events for what is not a stream client', () => {
  it('answers 406 naming Accept to a page load', async () => {
    const { headers } = await t.key('viewer')
    const res = await fetch(`${server.url}/events`, { headers: { ...headers, Accept: 'text/html' } })
    expect(res.status).toBe(406)
    // A browser asking for a page gets the error as a page, naming the header.
    expect(await res.text()).toContain('<code>Accept</code>')
  })
})

describe('the stream over time', () => {
  // The route alone, with short heartbeat and lifetime, behind a stand-in for the pipeline's auth.
  async function shortStreams() {
    const feed = createChangeFeed({ flushMs: 1 })
    const app = new Hono<AppEnv>()
    app.use(async (c, next) => {
      c.set('principal', { kind: 'key', id: 'k', name: 'k', role: 'viewer', scopes: [] })
      await next()
    })
    app.route('/', liveRoutes({ live: feed }, { heartbeatMs: 50, maxStreamMs: 400 }))
    return { feed, served: await serveLoopback({ app } as unknown as TestApp) }
  }

  it('sends heartbeats while quiet and ends when its time is up, letting go of the feed', async () => {
    const { feed, served } = await shortStreams()
    const stream = await openEvents(`${served.url}/events`)
    await stream.next('ready')
    expect(feed.listeners).toBe(1)
    expect(await stream.heartbeat()).toBe(true)
    // The stream ends by itself (the browser reconnects, signing in again); nothing waits in the feed.
    expect(await stream.next()).toBeNull()
    await until(() => feed.listeners === 0)
    await served.close()
  })

  it('lets go of the feed when the client goes away', async () => {
    const { feed, served } = await shortStreams()
    const stream = await openEvents(`${served.url}/events`)
    await stream.next('ready')
    stream.close()
    await until(() => feed.listeners === 0)
    expect(feed.listeners).toBe(0)
    await served.close()
  })
})

/** Waits until `check` holds (tests assert on what happens, never on how long it took). */
async function until(check: () => boolean) {
  while (!check()) await new Promise((r) => setTimeout(r, 20))
}
