/**
 * The fleet mix (tests/load/mix.json) for a few seconds against a real server (Bun, as `npm start`
 * runs it, with every rate limit at its default): the setup makes what the mix needs through the
 * API, then autocannon sends every kind of request in the mix's proportions at a low fixed rate.
 * Every answer must be one its kind may have (200, or 304 for reads that sent their ETag back), and
 * every kind must have been sent and answered. The figures are the bench's business (BENCH_ONLY=load);
 * nothing here asserts on time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { driveMix, type Fleet, MIX, setupFleet } from '../helpers/fleet.ts'
import { cliKey, killAll, type RunningServer, startServer } from '../helpers/server.ts'

const RATE = 30
const SECONDS = 6

describe('the fleet mix against a real server', () => {
  let server: RunningServer
  let fleet: Fleet

  beforeAll(async () => {
    // No model-route probes: the routes' targets are loopback ports nothing listens on.
    server = await startServer({ env: { LOG_LEVEL: 'warn', MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '0' } })
    fleet = await setupFleet(server.url, await cliKey(server, 'load-admin', 'admin'))
  })
  afterAll(killAll)

  it('the setup made what every kind needs', () => {
    const f = MIX.fleet
    expect(fleet.ingestKeys).toHaveLength(f.ingestKeys)
    expect(fleet.readerKeys).toHaveLength(f.readerKeys)
    expect(fleet.n8nKeys).toHaveLength(f.n8nKeys)
    expect(fleet.pushTokens).toHaveLength(f.pushComponents)
    expect(fleet.cookies).toHaveLength(f.users)
    expect(fleet.routes).toHaveLength(f.modelRoutes.length)
    expect(fleet.prompts).toHaveLength(f.prompts.length)
  })

  it('answers every request of every kind without an error, reads with ETags get 304s', async () => {
    const run = await driveMix(server.url, fleet, { rate: RATE, seconds: SECONDS })
    const byKind = Object.fromEntries([...run.kinds].map(([id, k]) => [id, { count: k.count, statuses: k.statuses }]))
    expect(run.firstErrors, JSON.stringify(byKind)).toEqual([])
    expect(run.socketErrors).toBe(0)
    for (const kind of MIX.kinds) {
      const k = run.kinds.get(kind.id)!
      expect(k.count, `${kind.id} was never answered: ${JSON.stringify(byKind)}`).toBeGreaterThan(0)
      expect(k.errors, `${kind.id}: ${JSON.stringify(k.statuses)}`).toBe(0)
    }
    // An agent that sends back the ETag it holds reads an unchanged route or prompt as 304.
    expect(run.kinds.get('model-route')!.statuses['304']).toBeGreaterThan(0)
    expect(run.kinds.get('prompt')!.statuses['304']).toBeGreaterThan(0)
    // What the agents and n8n pushed is stored: the series exist.
    const res = await server.fetch('/api/v1/metrics/series?search=load_agent', {
      headers: { authorization: `Bearer ${await cliKey(server, 'reader', 'viewer')}` },
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { items: { name: string }[] }
    expect(body.items.map((s) => s.name)).toContain('load_agent_latency_seconds')
  })

  it('counts a refused request as an error of its kind (the check above can fail)', async () => {
    const broken = { ...fleet, ingestKeys: ['hs_not_a_key'] }
    const run = await driveMix(server.url, broken, { rate: RATE, seconds: 2 })
    const single = run.kinds.get('metrics-single')!
    expect(single.errors).toBeGreaterThan(0)
    expect(single.statuses['401']).toBe(single.errors)
    expect(run.kinds.get('heartbeat')!.errors).toBe(0)
  })
})
