import { asc, count, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { components, statusHistory } from '../../db/schema/components.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { series } from '../../db/schema/metrics.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { componentChecksJob } from '../../jobs/components.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'

type Json = Record<string, any>
let t: TestApp
/** The database after moving the write inbox into `points`, for tests that read that table. */
const moved = async () => (await moveInbox(t.db), t.db)
let op: Record<string, string>
const log = createLogger('silent')
beforeAll(async () => {
  t = await testApp()
  op = (await t.key('operator')).headers
})
afterAll(() => t.close())

const tick = (now: number) =>
  componentChecksJob({
    db: t.db,
    store: t.services.statusStore,
    outbound: t.services.outbound,
    historyDays: 90,
    onOutcome: t.services.reportBreakerOutcome,
  }).handler({ now, tick: now, log }) as Promise<Record<string, number>>
async function pushComponent(
  name: string,
  push: Json = { expectedIntervalSeconds: 60, graceSeconds: 30 },
  labels: Record<string, string> = {},
) {
  const res = await t.json('POST', '/api/v1/components', { name, kind: 'agent', labels, push }, op)
  expect(res.status).toBe(201)
  return (await res.json()) as Json
}
const history = (id: string) =>
  t.db
    .select()
    .from(statusHistory)
    .where(eq(statusHistory.componentId, id))
    .orderBy(asc(statusHistory.ts), asc(statusHistory.id))
const totals = async () => ({
  history: (await t.db.select({ n: count() }).from(statusHistory))[0]!.n,
  series: (await t.db.select({ n: count() }).from(series))[0]!.n,
  points: (await storedPoints(await moved())).length,
  components: (await t.db.select({ n: count() }).from(components))[0]!.n,
})
async function metric(name: string, component: string) {
  const rows = (await storedPoints(await moved())).filter((p) => p.name === name)
  return rows.filter((r) => r.labels.component === component).map((r) => ({ labels: r.labels, value: r.value }))
}

describe('push heartbeats (Uptime Kuma compatible)', () => {
  it('an unknown token is 404 and nothing is created, whatever the method or parameters', async () => {
    await pushComponent('push-exists')
    const before = await totals()
    for (const path of [
      '/api/v1/push/not-a-real-token',
      '/api/v1/push/not-a-real-token?status=up&msg=OK&ping=12',
      `/api/v1/push/${'x'.repeat(5000)}`,
    ]) {
      expect((await t.app.request(path)).status).toBe(404)
      expect((await t.app.request(path, { method: 'POST' })).status).toBe(404)
    }
    const body = (await (await t.app.request('/api/v1/push/nope')).json()) as Json
    expect(body.error.code).toBe('not_found')
    expect(await totals()).toEqual(before)
  })

  it('GET with status=up&msg&ping records up=1, heartbeat_ping_seconds and a history row; no API key needed', async () => {
    const c = await pushComponent('push-up', undefined, { team: 'agents' })
    const res = await t.app.request(`/api/v1/push/${c.push.token}?status=up&msg=OK&ping=42.5`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
    expect(await history(c.id)).toMatchObject([
      { up: true, source: 'push', message: 'OK', latencyMs: 42.5, code: null },
    ])
    expect(await metric('up', 'push-up')).toEqual([{ labels: { component: 'push-up', team: 'agents' }, value: 1 }])
    expect(await metric('heartbeat_ping_seconds', 'push-up')).toEqual([
      { labels: { component: 'push-up', team: 'agents' }, value: 0.0425 }, // ping in ms, stored in seconds
    ])
    const got = (await (await t.app.request(`/api/v1/components/${c.id}`, { headers: op })).json()) as Json
    expect(got.status).toMatchObject({ state: 'up', message: 'OK', latencyMs: 42.5 })
    // bare push (no parameters) is "up", as in Uptime Kuma
    expect((await t.app.request(`/api/v1/push/${c.push.token}`)).status).toBe(200)
    expect((await history(c.id)).at(-1)).toMatchObject({ up: true, message: null, latencyMs: null })
  })

  it('POST with status=down records up=0 and no heartbeat_ping_seconds without ping', async () => {
    const c = await pushComponent('push-down')
    const res = await t.app.request(
      `/api/v1/push/${c.push.token}?status=down&msg=${encodeURIComponent('queue stuck')}`,
      { method: 'POST' },
    )
    expect(await res.json()).toEqual({ ok: true })
    expect(await history(c.id)).toMatchObject([{ up: false, message: 'queue stuck' }])
    expect(await metric('up', 'push-down')).toMatchObject([{ value: 0 }])
    expect(await metric('heartbeat_ping_seconds', 'push-down')).toEqual([])
  })

  it('bad parameters are 400 naming the field, and nothing is recorded', async () => {
    const c = await pushComponent('push-bad')
    const before = await totals()
    for (const [query, field] of [
      ['status=sideways', 'status'],
      ['ping=fast', 'ping'],
      ['ping=-3', 'ping'],
      [`msg=${'m'.repeat(1001)}`, 'msg'],
    ] as const) {
      const res = await t.app.request(`/api/v1/push/${c.push.token}?${query}`)
      expect(res.status, query).toBe(400)
      const body = (await res.json()) as Json
      expect(body.error.details.map((d: Json) => d.field)).toContain(field)
    }
    expect(await totals()).toEqual(before)
  })

  it('a heartbeat that does not arrive within interval + grace records up=0 "missed heartbeat", once per missed interval', async () => {
    const c = await pushComponent('push-missed', { expectedIntervalSeconds: 60, graceSeconds: 30 })
    await t.app.request(`/api/v1/push/${c.push.token}?status=up`)
    const [beat] = await history(c.id)
    const t0 = beat!.ts
    // other components of this file miss their heartbeats too: count this one's rows only
    const missedAfter = async (at: number) => (
      await tick(at), (await history(c.id)).filter((r) => r.source === 'missed').length
    )
    expect(await missedAfter(t0 + 89_000)).toBe(0)
    expect(await missedAfter(t0 + 90_000)).toBe(1)
    expect(await missedAfter(t0 + 100_000)).toBe(1) // not every tick
    expect(await missedAfter(t0 + 140_000)).toBe(1)
    expect(await missedAfter(t0 + 150_000)).toBe(2) // the next missed interval
    const rows = await history(c.id)
    expect(rows.map((r) => [r.source, r.up, r.message])).toEqual([
      ['push', true, null],
      ['missed', false, 'missed heartbeat'],
      ['missed', false, 'missed heartbeat'],
    ])
    expect(await metric('up', 'push-missed')).toMatchObject([{ value: 1 }, { value: 0 }, { value: 0 }])
    const got = (await (await t.app.request(`/api/v1/components/${c.id}`, { headers: op })).json()) as Json
    expect(got.status).toMatchObject({ state: 'down', message: 'missed heartbeat' })
  })

  it('a component that never pushed is missed after interval + grace from its creation; a heartbeat resets the deadline', async () => {
    const c = await pushComponent('push-never', { expectedIntervalSeconds: 30, graceSeconds: 0 })
    const created = Date.parse(c.createdAt)
    const missed = async (at: number) => (
      await tick(at), (await history(c.id)).filter((r) => r.source === 'missed').length
    )
    expect(await missed(created + 29_000)).toBe(0)
    expect(await missed(created + 30_000)).toBe(1)
    await t.app.request(`/api/v1/push/${c.push.token}?status=up`)
    const beat = (await history(c.id)).find((r) => r.source === 'push')!
    expect(await missed(beat.ts + 29_000)).toBe(1)
    expect(await missed(beat.ts + 30_000)).toBe(2)
  })

  it('an HTTP-checked component has no push URL', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/components',
      { name: 'push-none', kind: 'service', http: { url: 'http://127.0.0.1:9/x' } },
      op,
    )
    const c = (await res.json()) as Json
    expect(c.push).toBeNull()
    expect(
      (await t.app.request(`/api/v1/components/${c.id}/rotate-token`, { method: 'POST', headers: op })).status,
    ).toBe(400)
  })
})
