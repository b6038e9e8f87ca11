/**
 * The default rate limits against a real fleet's shape (issue 24), with the app's clock faked so a
 * 40 s of fleet time run in seconds and the token buckets refill by the fleet's time, not the
 * test's. Every limit is at its shipped default (read from the config schema, not copied here).
 *
 * The fleet: 200 agents behind ONE address (a NAT, the worst case for the per-address bucket) share
 * ONE ingest key; each pushes a batch every 10 s and a heartbeat every 20 s, all on the same tick
 * (agents started together by one deploy: the worst case for the bursts). The arithmetic, in
 * docs/security.md#a-fleet-against-the-limits: 20 batches/s + 10 heartbeats/s = 30 req/s from the
 * address (limit 100/s), 20 req/s on the key (ingest limit 1,000/s); the shared tick brings 400
 * requests at one instant (address burst 1,000; key burst 5,000).
 *
 * And abuse still gets 429 with Retry-After: one address past its burst, one key past its burst
 * from many addresses (behind a trusted proxy), and both served again after Retry-After seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../app/config.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const AGENTS = 200
const BATCH_EVERY_S = 10
const HEARTBEAT_EVERY_S = 20
const FLEET_SECONDS = 40
const POINTS_PER_BATCH = 10

const defaults = loadConfig({})
const DEFAULT_LIMITS = {
  IP_RATE_LIMIT_PER_SECOND: String(defaults.IP_RATE_LIMIT_PER_SECOND),
  IP_RATE_LIMIT_BURST: String(defaults.IP_RATE_LIMIT_BURST),
  RATE_LIMIT_PER_SECOND: String(defaults.RATE_LIMIT_PER_SECOND),
  RATE_LIMIT_BURST: String(defaults.RATE_LIMIT_BURST),
  INGEST_RATE_LIMIT_PER_SECOND: String(defaults.INGEST_RATE_LIMIT_PER_SECOND),
  INGEST_RATE_LIMIT_BURST: String(defaults.INGEST_RATE_LIMIT_BURST),
}

/** A clock the test moves: the app's `now`, so the rate limits' buckets refill by it. */
function fakeClock() {
  let now = Date.UTC(2026, 0, 5, 9, 0, 0)
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('200 agents sharing one ingest key at their normal rate', () => {
  const clock = fakeClock()
  let t: TestApp
  let ingest: Record<string, string>
  const tokens: string[] = []

  beforeAll(async () => {
    t = await testApp(DEFAULT_LIMITS, { now: clock.now })
    ingest = (await t.key('viewer', ['ingest'])).headers
    const op = (await t.key('operator')).headers
    for (let i = 0; i < AGENTS; i++) {
      const res = await t.json(
        'POST',
        '/api/v1/components',
        { name: `agent-${i}`, kind: 'agent', push: { expectedIntervalSeconds: HEARTBEAT_EVERY_S } },
        op,
      )
      expect(res.status, await res.clone().text()).toBe(201)
      tokens.push(((await res.json()) as { push: { token: string } }).push.token)
      clock.advance(100) // the setup itself stays under the operator key's 50/s
    }
    clock.advance(60_000) // every bucket full again before the fleet starts
  }, 120_000)
  afterAll(() => t?.close())

  const batch = (agent: number, second: number) =>
    t.json(
      'POST',
      '/api/v1/metrics',
      {
        points: Array.from({ length: POINTS_PER_BATCH }, (_, j) => ({
          name: `agent_metric_${j}`,
          value: second + j,
          labels: { agent: `agent-${agent}` },
        })),
      },
      ingest,
    )
  const heartbeat = (agent: number) => t.app.request(`/api/v1/push/${tokens[agent]}?status=up&ping=12`)

  it('never trips a limit: no 429 in 40 s of fleet time, every agent on the same tick', async () => {
    const statuses = new Map<number, number>()
    let sent = 0
    for (let second = 0; second < FLEET_SECONDS; second++) {
      const due: (Response | Promise<Response>)[] = []
      if (second % BATCH_EVERY_S === 0) for (let a = 0; a < AGENTS; a++) due.push(batch(a, second))
      if (second % HEARTBEAT_EVERY_S === 0) for (let a = 0; a < AGENTS; a++) due.push(heartbeat(a))
      for (const res of await Promise.all(due)) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        await res.arrayBuffer()
      }
      sent += due.length
      clock.advance(1000)
    }
    const expected = AGENTS * (FLEET_SECONDS / BATCH_EVERY_S + FLEET_SECONDS / HEARTBEAT_EVERY_S)
    expect(sent).toBe(expected)
    expect(Object.fromEntries(statuses)).toEqual({ 200: expected })
  }, 120_000)

  it('the agents took no token they do not have: the limits are what the config says', () => {
    // The shape above leans on these; a change of defaults must come with a new look at the arithmetic.
    const perAddress = AGENTS / BATCH_EVERY_S + AGENTS / HEARTBEAT_EVERY_S
    expect(perAddress).toBeLessThanOrEqual(defaults.IP_RATE_LIMIT_PER_SECOND * 0.5)
    expect(AGENTS * 2).toBeLessThanOrEqual(defaults.IP_RATE_LIMIT_BURST * 0.5)
    expect(AGENTS / BATCH_EVERY_S).toBeLessThanOrEqual(defaults.INGEST_RATE_LIMIT_PER_SECOND * 0.1)
    expect(AGENTS).toBeLessThanOrEqual(defaults.INGEST_RATE_LIMIT_BURST * 0.1)
  })
})

describe('abuse still gets 429 with Retry-After', () => {
  it('one address past its burst: 429 on every route but the probes, served again after Retry-After', async () => {
    const clock = fakeClock()
    const t = await testApp(DEFAULT_LIMITS, { now: clock.now })
    try {
      const burst = defaults.IP_RATE_LIMIT_BURST
      // A flood of heartbeats with made-up tokens: each costs the address a token before the lookup.
      const first = await Promise.all(
        Array.from({ length: burst }, async (_, i) => (await t.app.request(`/api/v1/push/nope-${i}`)).status),
      )
      expect(new Set(first)).toEqual(new Set([404]))
      const refused = await t.app.request('/api/v1/push/nope')
      expect(refused.status).toBe(429)
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true)
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited')
      expect((await t.app.request('/api/v1/whoami')).status).toBe(429)
      expect((await t.app.request('/health')).status).toBe(200)
      clock.advance(retryAfter * 1000)
      expect((await t.app.request('/api/v1/push/nope')).status).toBe(404)
    } finally {
      t.close()
    }
  }, 60_000)

  it('one ingest key past its burst from many addresses: 429 for that key only', async () => {
    const clock = fakeClock()
    const t = await testApp({ ...DEFAULT_LIMITS, TRUST_PROXY: 'true' }, { now: clock.now })
    try {
      const abuser = (await t.key('viewer', ['ingest'])).headers
      const other = (await t.key('viewer', ['ingest'])).headers
      // Each request from its own address, so only the key's bucket counts; an empty body is refused
      // by validation (400) after the key's token is taken, so the flood writes nothing.
      const send = async (headers: Record<string, string>, i: number) =>
        t.json('POST', '/api/v1/metrics', {}, { ...headers, 'X-Forwarded-For': `10.9.${i >> 8}.${i & 255}` })
      const burst = defaults.INGEST_RATE_LIMIT_BURST
      const statuses = new Map<number, number>()
      for (let i = 0; i < burst; i += 500) {
        const chunk = await Promise.all(
          Array.from({ length: Math.min(500, burst - i) }, (_, j) => send(abuser, i + j).then((r) => r.status)),
        )
        for (const s of chunk) statuses.set(s, (statuses.get(s) ?? 0) + 1)
      }
      expect(Object.fromEntries(statuses)).toEqual({ 400: burst })
      const refused = await send(abuser, burst)
      expect(refused.status).toBe(429)
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(retryAfter).toBeGreaterThanOrEqual(1)
      // Another key (another agent group) is not held back by the abuser.
      expect((await send(other, burst + 1)).status).toBe(400)
      clock.advance(retryAfter * 1000)
      expect((await send(abuser, burst + 2)).status).toBe(400)
    } finally {
      t.close()
    }
  }, 60_000)
})
