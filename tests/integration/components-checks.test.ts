import { and, asc, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { components, statusHistory } from '../../db/schema/components.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { inPool } from '../../app/modules/components/checks.ts'
import { componentChecksJob } from '../../jobs/components.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { httpTarget, refusedUrl } from '../helpers/http-target.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'

type Json = Record<string, any>
let t: TestApp
/** The database after moving the write inbox into `points`, for tests that read that table. */
const moved = async () => (await moveInbox(t.db), t.db)
let target: Awaited<ReturnType<typeof httpTarget>>
let op: Record<string, string>
const log = createLogger('silent')

beforeAll(async () => {
  t = await testApp()
  target = await httpTarget()
  op = (await t.key('operator')).headers
})
afterAll(async () => {
  await target.close()
  t.close()
})

/** The job's handler, driven with a fake clock as the scheduler would call it. */
const tick = (now: number) =>
  componentChecksJob({
    db: t.db,
    store: t.services.statusStore,
    outbound: t.services.outbound,
    historyDays: 90,
    onOutcome: t.services.reportBreakerOutcome,
  }).handler({ now, tick: now, log }) as Promise<Record<string, number>>

async function make(name: string, http: Json, labels: Record<string, string> = {}) {
  const res = await t.json('POST', '/api/v1/components', { name, kind: 'service', labels, http }, op)
  expect(res.status).toBe(201)
  return (await res.json()) as Json
}
const history = (id: string) =>
  t.db
    .select()
    .from(statusHistory)
    .where(eq(statusHistory.componentId, id))
    .orderBy(asc(statusHistory.ts), asc(statusHistory.id))
async function metric(name: string, component: string) {
  const rows = (await storedPoints(await moved())).filter((p) => p.name === name)
  return rows
    .filter((r) => r.labels.component === component)
    .map((r) => ({ labels: r.labels, ts: r.ts, value: r.value }))
}

describe('HTTP checks (component-checks job)', () => {
  it('records up, latency, status history for 200, 500, wrong body, hanging and refused targets', async () => {
    const ok = await make('chk-ok', { url: target.url('/ok'), expectedBodyText: 'all good' }, { team: 'core' })
    const fail = await make('chk-500', { url: target.url('/fail') })
    const text = await make('chk-text', { url: target.url('/text'), expectedBodyText: 'all good' })
    const hang = await make('chk-hang', { url: target.url('/hang'), timeoutMs: 300 })
    const body = await make('chk-slow-body', {
      url: target.url('/slow-body'),
      timeoutMs: 300,
      expectedBodyText: 'never',
    })
    const refused = await make('chk-refused', { url: await refusedUrl('/health'), method: 'HEAD' })
    const accepts500 = await make('chk-500-expected', {
      url: target.url('/fail'),
      method: 'POST',
      expectedStatus: [500],
    })

    const now = Date.now() + 1000
    const counts = await tick(now)
    expect(counts).toMatchObject({ checked: 7, up: 2, down: 5 })

    const [okRow] = await history(ok.id)
    expect(okRow).toMatchObject({ ts: now, up: true, source: 'http', code: 200, message: null })
    expect(okRow!.latencyMs).toBeGreaterThanOrEqual(0)
    expect(await history(fail.id)).toMatchObject([{ up: false, code: 500, message: 'status 500 is not 200-399' }])
    expect(await history(text.id)).toMatchObject([
      { up: false, code: 200, message: 'body does not contain "all good"' },
    ])
    expect(await history(hang.id)).toMatchObject([
      { up: false, code: null, latencyMs: null, message: 'could not reach the destination' },
    ])
    expect(await history(body.id)).toMatchObject([
      { up: false, code: null, message: 'could not reach the destination' },
    ])
    // A closed port reads like a hanging one: the message must not map which ports answer.
    expect(await history(refused.id)).toMatchObject([
      { up: false, code: null, message: 'could not reach the destination' },
    ])
    expect(await history(accepts500.id)).toMatchObject([{ up: true, code: 500 }])

    // metrics through the store: up 1/0 and check_duration_seconds (latency_ms before 0.2), labelled with the component and its labels
    expect(await metric('up', 'chk-ok')).toEqual([{ labels: { component: 'chk-ok', team: 'core' }, ts: now, value: 1 }])
    expect((await metric('check_duration_seconds', 'chk-ok'))[0]).toMatchObject({
      labels: { component: 'chk-ok', team: 'core' },
      ts: now,
    })
    expect(await metric('up', 'chk-hang')).toMatchObject([{ value: 0 }])
    expect(await metric('check_duration_seconds', 'chk-hang')).toEqual([]) // no response, no latency
    expect(await metric('up', 'chk-500')).toMatchObject([{ value: 0 }])

    // the current status is on the component
    const got = (await (await t.app.request(`/api/v1/components/${hang.id}`, { headers: op })).json()) as Json
    expect(got.status).toMatchObject({
      state: 'down',
      message: 'could not reach the destination',
      lastCheckAt: new Date(now).toISOString(),
    })
    const good = (await (await t.app.request(`/api/v1/components/${ok.id}`, { headers: op })).json()) as Json
    expect(good.status.state).toBe('up')

    for (const c of [ok, fail, text, hang, body, refused, accepts500])
      await t.app.request(`/api/v1/components/${c.id}`, { method: 'DELETE', headers: op })
  })

  it('respects each check interval', async () => {
    const c = await make('chk-interval', { url: target.url('/ok'), intervalSeconds: 30, timeoutMs: 2000 })
    const start = Date.now() + 1000
    expect((await tick(start)).checked).toBe(1)
    expect((await tick(start + 10_000)).checked).toBe(0)
    expect((await tick(start + 20_000)).checked).toBe(0)
    expect((await tick(start + 30_000)).checked).toBe(1)
    expect((await tick(start + 40_000)).checked).toBe(0)
    const rows = await history(c.id)
    expect(rows.map((r) => r.ts)).toEqual([start, start + 30_000])
    // a changed check runs at the next tick
    await t.json('PATCH', `/api/v1/components/${c.id}`, { http: { url: target.url('/fail') } }, op)
    const later = Date.now() + 1000
    expect((await tick(later)).checked).toBe(1)
    expect((await history(c.id)).find((r) => r.ts === later)).toMatchObject({ up: false, code: 500 })
    await t.app.request(`/api/v1/components/${c.id}`, { method: 'DELETE', headers: op })
  })

  it('inPool never runs more than its limit at once', async () => {
    let running = 0
    let most = 0
    const seen: number[] = []
    await inPool(
      Array.from({ length: 25 }, (_, i) => i),
      4,
      async (i) => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setImmediate(resolve))
        seen.push(i)
        running--
      },
    )
    expect(most).toBe(4)
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i))
  })

  it('runs checks concurrently, at most 8 at once', async () => {
    const made = []
    for (let i = 0; i < 10; i++) made.push(await make(`chk-par-${i}`, { url: target.url('/hang'), timeoutMs: 400 }))
    target.resetMax()
    const counts = await tick(Date.now() + 1000)
    expect(counts).toMatchObject({ checked: 10, down: 10 })
    // eight hanging requests were open together before the first timed out; the other two waited
    expect(target.firstWave()).toBe(8)
    for (const c of made)
      expect(await history(c.id)).toMatchObject([{ up: false, message: 'could not reach the destination' }])
    for (const c of made) await t.app.request(`/api/v1/components/${c.id}`, { method: 'DELETE', headers: op })
  })

  it('a tick claims due checks first, so a second run at the same time checks nothing twice', async () => {
    const c = await make('chk-claim', { url: target.url('/ok'), timeoutMs: 2000 })
    const now = Date.now() + 1000
    const [a, b] = await Promise.all([tick(now), tick(now)])
    expect(a!.checked! + b!.checked!).toBe(1)
    expect(await history(c.id)).toHaveLength(1)
    const [row] = await t.db
      .select()
      .from(components)
      .where(and(eq(components.id, c.id)))
    expect(row!.nextCheckAt).toBe(now + 60_000)
  })

  it('purges status history older than the retention in small batches', async () => {
    const c = await make('chk-purge', { url: target.url('/ok'), timeoutMs: 2000, intervalSeconds: 3600 })
    const now = Date.now() + 1000
    await t.db.insert(statusHistory).values(
      Array.from({ length: 5 }, (_, i) => ({
        componentId: c.id,
        ts: now - 91 * 86_400_000 - i,
        up: true,
        source: 'http' as const,
      })),
    )
    const counts = await tick(now)
    expect(counts.purged).toBeGreaterThanOrEqual(5)
    expect((await history(c.id)).every((r) => r.ts >= now - 90 * 86_400_000)).toBe(true)
  })
})
