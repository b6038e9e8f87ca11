import { asc, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import {
  backoffMs,
  DEFAULT_SETTINGS,
  getBreaker,
  createBreakers,
  isOpen,
  targetBreakerKey,
} from '../../app/modules/healing/breakers/breakers.ts'
import { openDb } from '../../db/client.ts'
import { breakerEvents } from '../../db/schema/healing.ts'
import { componentChecksJob } from '../../jobs/components.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'
import { httpTarget } from '../helpers/http-target.ts'

type Json = Record<string, any>
let n = 0
const fresh = () => `test:breaker-${++n}`
const T0 = 1_800_000_000_000

const t = await testApp()
afterAll(() => t.close())
const { op, viewer, ingest } = await roleHeaders(t)
const breakers = (await t.key('viewer', ['breakers'])).headers

const ok = (key: string, now: number) => t.services.healing.breakers.report(key, { ok: true }, now)
const fail = (key: string, now: number, error = 'boom') =>
  t.services.healing.breakers.report(key, { ok: false, error }, now)
const events = (key: string) =>
  t.db.select().from(breakerEvents).where(eq(breakerEvents.key, key)).orderBy(asc(breakerEvents.id))
const path = (key: string, tail = '') => `/api/v1/healing/breakers/${encodeURIComponent(key)}${tail}`

describe('the breaker state machine', () => {
  it('opens when at least half of the last calls failed (with the minimum number of calls), not before', async () => {
    const key = fresh()
    const seq = [true, false, true, false, true] // 2 of 5 failed: 40 %
    let at = T0
    for (const s of seq)
      expect((await t.services.healing.breakers.report(key, { ok: s, error: 'x' }, at++)).transition).toBeUndefined()
    expect((await getBreaker(t.db, key))!.state).toBe('CLOSED')
    const r = await fail(key, at) // 3 of 6: 50 %
    expect(r.transition).toEqual({ from: 'CLOSED', to: 'OPEN' })
    expect(r.breaker).toMatchObject({
      state: 'OPEN',
      openCount: 1,
      openedAt: at,
      retryAt: at + DEFAULT_SETTINGS.baseBackoffMs,
      lastError: 'boom',
    })
    expect(await events(key)).toMatchObject([
      { from: 'CLOSED', to: 'OPEN', reason: '3 of the last 6 calls failed (last: boom)' },
    ])
  })

  it('fewer calls than the minimum never open by rate; 3 failures in a row open at once', async () => {
    const key = fresh()
    expect((await ok(key, T0)).transition).toBeUndefined()
    expect((await fail(key, T0 + 1)).transition).toBeUndefined() // 1 of 2 = 50 %, but only 2 calls
    expect((await fail(key, T0 + 2)).transition).toBeUndefined() // 2 in a row, 2 of 3
    const third = await fail(key, T0 + 3, 'connection refused')
    expect(third.transition).toEqual({ from: 'CLOSED', to: 'OPEN' })
    expect((await events(key))[0]!.reason).toBe('3 failures in a row (last: connection refused)')
  })

  it('keeps only the last 10 calls: old failures fall out of the window', async () => {
    const key = fresh()
    await fail(key, T0)
    await fail(key, T0 + 1)
    for (let i = 0; i < 10; i++) await ok(key, T0 + 10 + i)
    const b = (await getBreaker(t.db, key))!
    expect(b.window).toEqual(Array(10).fill(1))
    // 4 failures spread out in 10 calls: 40 %, never 3 in a row → stays closed
    for (const s of [false, true, false, true, false, true, false])
      expect((await t.services.healing.breakers.report(key, { ok: s }, T0 + 100)).breaker.state).toBe('CLOSED')
  })

  it('OPEN until the backoff passes, then half-open; closes after 3 successful probes', async () => {
    const key = fresh()
    for (let i = 0; i < 3; i++) await fail(key, T0 + i)
    const retryAt = T0 + 2 + 5000
    expect(await isOpen(t.db, key, retryAt - 1)).toBe(true)
    expect(await isOpen(t.db, key, retryAt)).toBe(false)
    // Before the backoff: outcomes are recorded, nothing changes.
    const early = await ok(key, retryAt - 1)
    expect(early.transition).toBeUndefined()
    expect(early.breaker).toMatchObject({ state: 'OPEN', lastSuccessAt: retryAt - 1, halfOpenSuccesses: 0 })
    const first = await ok(key, retryAt)
    expect(first.transition).toEqual({ from: 'OPEN', to: 'HALF_OPEN' })
    expect(first.breaker).toMatchObject({ state: 'HALF_OPEN', halfOpenSuccesses: 1 })
    expect((await ok(key, retryAt + 1000)).breaker).toMatchObject({ state: 'HALF_OPEN', halfOpenSuccesses: 2 })
    const closed = await ok(key, retryAt + 2000)
    expect(closed.transition).toEqual({ from: 'HALF_OPEN', to: 'CLOSED' })
    expect(closed.breaker).toMatchObject({ state: 'CLOSED', openCount: 0, window: [], retryAt: null })
    expect((await events(key)).map((e) => `${e.from}>${e.to}`)).toEqual([
      'CLOSED>OPEN',
      'OPEN>HALF_OPEN',
      'HALF_OPEN>CLOSED',
    ])
  })

  it('a failed half-open probe opens it again with the backoff doubled, up to the cap; closing resets it', async () => {
    const key = fresh()
    let now = T0
    for (let i = 0; i < 3; i++) await fail(key, now)
    const waits: number[] = []
    let b = (await getBreaker(t.db, key))!
    waits.push(b.retryAt! - now)
    for (let i = 0; i < 8; i++) {
      now = b.retryAt!
      const r = await fail(key, now, 'still down')
      expect(r.transition).toEqual({ from: 'OPEN', to: 'OPEN' })
      b = r.breaker
      waits.push(b.retryAt! - now)
    }
    expect(waits).toEqual([5000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000])
    expect(b.openCount).toBe(9)
    // A success then a failure in half-open also re-opens (the count restarts in half-open).
    now = b.retryAt!
    await ok(key, now)
    expect((await fail(key, now + 1)).breaker).toMatchObject({ state: 'OPEN', openCount: 10, halfOpenSuccesses: 0 })
    now = (await getBreaker(t.db, key))!.retryAt!
    for (let i = 0; i < 3; i++) await ok(key, now + i)
    expect((await getBreaker(t.db, key))!.state).toBe('CLOSED')
    for (let i = 0; i < 3; i++) await fail(key, now + 10 + i)
    const again = (await getBreaker(t.db, key))!
    expect(again.retryAt! - again.openedAt!).toBe(5000)
    expect(backoffMs(DEFAULT_SETTINGS, 40)).toBe(300_000)
  })

  it('targetBreakerKey names a route target', () => {
    expect(targetBreakerKey({ model: 'llama3:8b', host: 'http://10.0.0.5:11434' })).toBe(
      'model:http://10.0.0.5:11434/llama3:8b',
    )
  })
})

describe('concurrent reports', () => {
  it('lose no outcome when they race in one process', async () => {
    const key = fresh()
    const outcomes = [true, true, false, true, true, true, false, true, true, true]
    await Promise.all(outcomes.map((o, i) => t.services.healing.breakers.report(key, { ok: o }, T0 + (i % 3))))
    const b = (await getBreaker(t.db, key))!
    expect(b.window).toHaveLength(10)
    expect(b.window.filter((x) => x === 0)).toHaveLength(2)
  })

  it('lose no outcome when two database connections (two instances) race', async () => {
    const key = fresh()
    const other = await openDb({ url: t.config.DATABASE_URL })
    // The other instance has its own breakers service (its own per-key queues) on its own connection.
    const breakers = [t.services.healing.breakers, createBreakers(other.db)]
    try {
      await Promise.all(Array.from({ length: 8 }, (_, i) => breakers[i % 2]!.report(key, { ok: true }, T0)))
      const b = (await getBreaker(t.db, key))!
      expect(b.window).toHaveLength(8)
      expect(b.updatedAt).toBeGreaterThanOrEqual(T0 + 7) // every write moved it on by at least 1 ms
    } finally {
      other.client.close()
    }
  })

  it('lose no outcome over HTTP, and the opening is recorded once', async () => {
    const key = fresh()
    const res = await Promise.all(
      Array.from({ length: 6 }, () => t.json('POST', path(key, '/report'), { ok: false, error: 'down' }, breakers)),
    )
    expect(res.map((r) => r.status)).toEqual(Array(6).fill(200))
    const b = (await getBreaker(t.db, key))!
    expect(b.state).toBe('OPEN')
    expect(b.window).toEqual([0, 0, 0]) // the 4th..6th came while OPEN: recorded as last failure only
    expect((await events(key)).filter((e) => e.to === 'OPEN')).toHaveLength(1)
  })
})

describe('the breakers API', () => {
  it('reports by ok or by status; keys with : and / travel URL-encoded', async () => {
    const key = 'model:http://127.0.0.1:11434/llama3:8b'
    let res = await t.json('POST', path(key, '/report'), { status: 'success' }, breakers)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      key,
      state: 'CLOSED',
      window: { calls: 1, failures: 0 },
      transition: null,
    })
    for (let i = 0; i < 2; i++) await t.json('POST', path(key, '/report'), { ok: false, error: 'HTTP 500' }, op)
    res = await t.json('POST', path(key, '/report'), { status: 'failure', error: 'HTTP 500' }, breakers)
    const body = (await res.json()) as Json
    expect(body).toMatchObject({
      state: 'OPEN',
      lastError: 'HTTP 500',
      transition: { from: 'CLOSED', to: 'OPEN' },
      window: { calls: 4, failures: 3, consecutiveFailures: 3 },
    })
    res = await t.app.request(path(key), { headers: viewer })
    expect(res.status).toBe(200)
    const one = (await res.json()) as Json
    expect(one).toMatchObject({ key, state: 'OPEN', openCount: 1 })
    expect(one.events).toMatchObject([{ from: 'CLOSED', to: 'OPEN' }])
    res = await t.app.request('/api/v1/healing/breakers?state=OPEN&prefix=model:', { headers: viewer })
    expect(((await res.json()) as Json).items.map((b: Json) => b.key)).toContain(key)
    const audited = await t.client.execute({
      sql: "select summary from audit_log where action = 'breaker.transition' and target = ?",
      args: [key],
    })
    expect(audited.rows.map((r) => r.summary)).toEqual(['CLOSED → OPEN'])
  })

  it('paginates the list by key', async () => {
    for (const k of ['page:a', 'page:b', 'page:c']) await ok(k, T0)
    const first = (await (
      await t.app.request('/api/v1/healing/breakers?prefix=page:&limit=2', { headers: viewer })
    ).json()) as Json
    expect(first.items.map((b: Json) => b.key)).toEqual(['page:a', 'page:b'])
    const second = (await (
      await t.app.request(`/api/v1/healing/breakers?prefix=page:&limit=2&cursor=${first.next}`, { headers: viewer })
    ).json()) as Json
    expect(second).toMatchObject({ items: [{ key: 'page:c' }], next: null })
  })

  it('reset closes the breaker (operator+), writes an event and the audit log', async () => {
    const key = fresh()
    for (let i = 0; i < 3; i++) await fail(key, Date.now())
    expect((await t.json('POST', path(key, '/reset'), {}, viewer)).status).toBe(403)
    const res = await t.app.request(path(key, '/reset'), { method: 'POST', headers: op })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ state: 'CLOSED', openCount: 0, window: { calls: 0 } })
    expect((await events(key)).at(-1)).toMatchObject({
      from: 'OPEN',
      to: 'CLOSED',
      reason: expect.stringContaining('reset by key:'),
    })
    expect(
      (
        await t.client.execute({
          sql: "select count(*) as n from audit_log where action = 'breaker.reset' and target = ?",
          args: [key],
        })
      ).rows[0]!.n,
    ).toBe(1)
    expect((await t.app.request(path('test:no-such-breaker', '/reset'), { method: 'POST', headers: op })).status).toBe(
      404,
    )
  })

  it('refuses bad keys and bad bodies with a 400 naming the field', async () => {
    for (const bad of [
      ' leading-space',
      'has space',
      `x:${'x'.repeat(299)}`,
      'model:ünïcode',
      '-kind:x',
      'no-kind',
      'kind:',
      ':name',
    ]) {
      const res = await t.json('POST', path(bad, '/report'), { ok: true }, op)
      expect(res.status, bad).toBe(400)
      expect(((await res.json()) as Json).error.details).toMatchObject([{ field: 'key' }])
    }
    const key = fresh()
    const cases: [unknown, string][] = [
      [{}, 'ok'],
      [{ ok: 'yes' }, 'ok'],
      [{ status: 'meh' }, 'status'],
      [{ ok: true, status: 'failure' }, 'status'],
      [{ ok: false, error: 'e'.repeat(1001) }, 'error'],
      [{ ok: true, extra: 1 }, 'extra'],
    ]
    for (const [body, field] of cases) {
      const res = await t.json('POST', path(key, '/report'), body, op)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(((await res.json()) as Json).error.details.map((d: Json) => d.field)).toContain(field)
    }
    expect(await getBreaker(t.db, key)).toBeUndefined()
    const res = await t.app.request(path(key, '/report'), {
      method: 'POST',
      body: 'ok=true',
      headers: { ...op, 'Content-Type': 'text/plain' },
    })
    expect(res.status).toBe(415)
    expect((await t.app.request(path('test:unknown'), { headers: viewer })).status).toBe(404)
  })

  it('access: breakers keys and operators report; viewers read but cannot report; ingest keys cannot report; breakers keys cannot read or reset', async () => {
    const key = fresh()
    expect((await t.json('POST', path(key, '/report'), { ok: true }, viewer)).status).toBe(403)
    expect((await t.json('POST', path(key, '/report'), { ok: false }, ingest)).status).toBe(403)
    expect((await t.json('POST', path(key, '/report'), { ok: true }, breakers)).status).toBe(200)
    expect((await t.json('POST', path(key, '/report'), { ok: true }, op)).status).toBe(200)
    expect((await t.app.request(path(key), { headers: breakers })).status).toBe(403)
    expect((await t.app.request(path(key, '/reset'), { method: 'POST', headers: breakers })).status).toBe(403)
    expect((await t.json('POST', path(key, '/report'), { ok: true })).status).toBe(401)
  })
})

describe('tuning a breaker', () => {
  it('PATCH merges settings (operator+), creates the breaker if new, and the machine follows them', async () => {
    const key = fresh()
    expect((await t.json('PATCH', path(key), { consecutiveFailures: 1 }, viewer)).status).toBe(403)
    let res = await t.json(
      'PATCH',
      path(key),
      { consecutiveFailures: 1, baseBackoffMs: 1000, maxBackoffMs: 1500, successesToClose: 1 },
      op,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      key,
      state: 'CLOSED',
      settings: {
        ...DEFAULT_SETTINGS,
        consecutiveFailures: 1,
        baseBackoffMs: 1000,
        maxBackoffMs: 1500,
        successesToClose: 1,
      },
    })
    expect((await fail(key, T0)).breaker).toMatchObject({ state: 'OPEN', retryAt: T0 + 1000 })
    expect((await fail(key, T0 + 1000)).breaker).toMatchObject({ state: 'OPEN', retryAt: T0 + 2500 }) // doubled, capped at 1500
    expect((await ok(key, T0 + 2500)).transition).toEqual({ from: 'OPEN', to: 'CLOSED' })
    // A smaller window keeps the newest outcomes.
    for (let i = 0; i < 3; i++) await ok(key, T0 + 3000 + i)
    res = await t.json('PATCH', path(key), { windowSize: 2, minCalls: 2, consecutiveFailures: 2 }, op)
    expect(await res.json()).toMatchObject({ window: { calls: 2 }, settings: { windowSize: 2, baseBackoffMs: 1000 } })
    const audited = await t.client.execute({
      sql: "select count(*) as n from audit_log where action = 'breaker.updated' and target = ?",
      args: [key],
    })
    expect(audited.rows[0]!.n).toBe(2)
  })

  it('refuses settings that do not fit together, naming the field', async () => {
    const key = fresh()
    const cases: [Json, string][] = [
      [{ windowSize: 0 }, 'windowSize'],
      [{ failureRate: 1.5 }, 'failureRate'],
      [{ minCalls: 20 }, 'minCalls'],
      [{ windowSize: 4, consecutiveFailures: 5 }, 'consecutiveFailures'],
      [{ baseBackoffMs: 10_000, maxBackoffMs: 5_000 }, 'maxBackoffMs'],
      [{ successesToClose: 2.5 }, 'successesToClose'],
      [{ state: 'OPEN' }, 'state'],
    ]
    for (const [body, field] of cases) {
      const res = await t.json('PATCH', path(key), body, op)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(((await res.json()) as Json).error.details.map((d: Json) => d.field)).toContain(field)
    }
    expect(await getBreaker(t.db, key)).toBeUndefined()
  })
})

describe('component checks feed component breakers', () => {
  it('each HTTP check result is an outcome for component:<name>; three failed checks open it', async () => {
    const target = await httpTarget()
    try {
      const res = await t.json(
        'POST',
        '/api/v1/components',
        { name: 'brk-api', kind: 'service', http: { url: target.url('/fail'), intervalSeconds: 10 } },
        op,
      )
      expect(res.status).toBe(201)
      const job = componentChecksJob({
        db: t.db,
        store: t.services.statusStore,
        outbound: t.services.outbound,
        historyDays: 90,
        onOutcome: t.services.reportBreakerOutcome,
      })
      const log = createLogger('silent')
      let now = Date.now() + 1000
      for (let i = 0; i < 3; i++, now += 10_000) await job.handler({ now, tick: now, log })
      const b = (await getBreaker(t.db, 'component:brk-api'))!
      expect(b).toMatchObject({ state: 'OPEN', window: [0, 0, 0], lastError: 'status 500 is not 200-399' })
    } finally {
      await target.close()
    }
  })
})
