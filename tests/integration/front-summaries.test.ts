/**
 * The front page's stored summaries (docs/front-page.md#performance, ADR 0028): the front-summaries
 * job computes the fleet and agents-and-models tiles per range into front_summaries, and the page
 * reads them. Against the real app and database, with the app's clock fixed so the page and the
 * job's handler read the same range: the stored figures give the same tiles as the page computed
 * per request before (and the overview API's figures), a new component or series shows after the
 * next refresh, each range refreshes on its own period, the lease lets one instance run a tick, an
 * old or missing summary is handled, and an empty database still shows the empty states.
 */
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { frontTiles } from '../../app/front-tiles.ts'
import type { FrontTile } from '../../app/lib/tiles.tsx'
import { refreshSummaries } from '../../app/modules/front/index.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { runRollups } from '../../app/modules/metrics/index.ts'
import { createRoot } from '../../app/root.ts'
import { openDb } from '../../db/client.ts'
import { frontSummaries } from '../../db/schema/front.ts'
import { jobRuns } from '../../db/schema/system.ts'
import { frontSummariesJob } from '../../jobs/front-summaries.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, any>
type Headers = Record<string, string>
const MIN = 60_000
const HOUR = 60 * MIN
const RANGES = ['1h', '24h', '7d'] as const
const SUMMARISED = ['fleet', 'agents-models'] as const
// A fixed clock, 20 s into a minute (when the job ticks): the page and the job read the same ranges.
let clock = Math.floor(Date.now() / MIN) * MIN + 20_000
let t: TestApp
let op: Headers
let viewer: Headers
let job: ReturnType<typeof frontSummariesJob>
const log = createLogger('silent')

const tick = () => job.handler({ now: clock, tick: clock, log }) as Promise<Record<string, number>>
const tile = async (id: string, range = '24h', headers = viewer) => {
  const res = await t.app.request(`/front/tiles/${id}?range=${range}`, {
    headers: { ...headers, 'HX-Request': 'true' },
  })
  return { status: res.status, html: await res.text() }
}
/** The tile without its "as of" line: what the figures say. */
const figures = (html: string) => html.replace(/<p class="as-of[^"]*"[\s\S]*?<\/p>/, '')
const rows = () => t.db.select().from(frontSummaries)
const asOf = async (id: string, range: string) => (await rows()).find((r) => r.tile === id && r.range === range)?.asOf

async function push(points: Json[]) {
  const res = await t.json('POST', '/api/v1/metrics', { points }, op)
  expect(res.status).toBe(200)
}

beforeAll(async () => {
  t = await testApp({}, { now: () => clock })
  op = (await t.key('operator')).headers
  viewer = (await t.key('viewer')).headers
  job = frontSummariesJob({ db: t.db, tiles: frontTiles(t.services) })
  const make = async (body: Json) => (await (await t.json('POST', '/api/v1/components', body, op)).json()) as Json
  const planner = await make({ name: 'fs-planner', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
  const coder = await make({ name: 'fs-coder', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
  await make({ name: 'fs-idle', kind: 'service', push: { expectedIntervalSeconds: 600 } })
  await t.app.request(`/api/v1/push/${planner.push.token}?status=up`)
  await t.app.request(`/api/v1/push/${coder.push.token}?status=down&msg=stuck`)
  await t.json('POST', '/api/v1/prices', { model: 'gpt-fs', promptPer1M: 2, completionPer1M: 8 }, op)
  const points: Json[] = []
  for (let h = 0; h < 7 * 24; h++) {
    const at = clock - h * HOUR - 5 * MIN
    const recent = h < 24
    for (const [component, model, base] of [
      ['fs-planner', 'gpt-fs', 400],
      ['fs-coder', 'gpt-other', 900],
    ] as const) {
      points.push(
        { name: 'llm_latency_ms', value: base + (recent ? h : -100), ts: at, labels: { component, model } },
        { name: 'llm_latency_ms', value: base + 20, ts: at + 1000, labels: { component, model } },
        { name: 'llm_tokens_total', value: recent ? 1000 : 600, ts: at, labels: { component, model, kind: 'prompt' } },
        { name: 'agent_requests_total', value: recent ? 10 : 4, ts: at, labels: { component } },
        { name: 'agent_errors_total', value: h % 3 ? 0 : 1, ts: at, labels: { component } },
      )
    }
  }
  // The last minutes too, so the 1 h range reads minute rollups and raw points beside the hourly ones.
  for (let m = 1; m <= 50; m += 7)
    points.push({ name: 'llm_latency_ms', value: 700 + m, ts: clock - m * MIN, labels: { component: 'fs-planner' } })
  await push(points)
  await runRollups(t.db, clock)
})
afterAll(() => t.close())

describe('the stored summaries', () => {
  it('give the same tiles as the page computed per request before the job ran', async () => {
    expect(await rows()).toEqual([])
    const before: Record<string, string> = {}
    for (const range of RANGES)
      for (const id of SUMMARISED) {
        const { status, html } = await tile(id, range)
        expect(status).toBe(200)
        expect(html).not.toContain('class="as-of')
        before[`${id} ${range}`] = html
      }
    expect(before['fleet 24h']).toContain('data-component="fs-planner"')
    expect(before['agents-models 24h']).toContain('data-row="gpt-fs"')

    expect(await tick()).toMatchObject({ computed: 6, fresh: 0 })
    expect((await rows()).map((r) => `${r.tile} ${r.range}`).sort()).toEqual(
      SUMMARISED.flatMap((id) => RANGES.map((r) => `${id} ${r}`)).sort(),
    )
    for (const range of RANGES)
      for (const id of SUMMARISED) {
        const { html } = await tile(id, range)
        const hhmm = new Date(clock).toISOString().slice(11, 16)
        expect(html, `${id} ${range}`).toContain(`as of <time datetime="${new Date(clock).toISOString()}">${hhmm} UTC`)
        expect(figures(html), `${id} ${range}`).toBe(before[`${id} ${range}`])
      }
    // The whole page reads the same rows.
    const page = await (await t.app.request('/?range=7d', { headers: viewer })).text()
    expect(page.match(/class="as-of/g)).toHaveLength(2)
  })

  it('hold the overview API’s figures for every component', async () => {
    for (const range of RANGES) {
      const res = await t.app.request(`/api/v1/metrics/overview?range=${range}`, { headers: viewer })
      const api = (await res.json()) as Json
      const stored = (await rows()).find((r) => r.tile === 'fleet' && r.range === range)!.data as Json
      expect(stored.costUsd).toBe(api.totals.costUsd)
      for (const c of api.components as Json[]) {
        const f = stored.components[c.name]
        expect(f, `${c.name} ${range}`).toMatchObject({
          uptime: c.uptime,
          errorRate: c.errorRate,
          p95LatencyMs: c.p95LatencyMs,
          costUsd: c.costUsd,
          latencyMetric: c.latencyMetric,
        })
      }
      expect(stored.components['fs-planner'].p95LatencyMs).toBeGreaterThan(0)
      expect(stored.components['fs-planner'].spark).toHaveLength(24)
    }
  })

  it('a new component and a new series show after the next refresh; status is always live', async () => {
    const made = (await (
      await t.json(
        'POST',
        '/api/v1/components',
        { name: 'fs-fresh', kind: 'agent', push: { expectedIntervalSeconds: 60 } },
        op,
      )
    ).json()) as Json
    await t.app.request(`/api/v1/push/${made.push.token}?status=down&msg=new`)
    await push([
      { name: 'llm_latency_ms', value: 333, ts: clock - 2 * MIN, labels: { component: 'fs-fresh', model: 'gpt-new' } },
      { name: 'agent_requests_total', value: 7, ts: clock - 2 * MIN, labels: { component: 'fs-fresh' } },
    ])
    // Its status is read per request, so it is on the grid at once (down first), its figures not yet.
    let fleet = (await tile('fleet', '1h')).html
    const fresh = () => fleet.slice(fleet.indexOf('data-component="fs-fresh"'))
    expect(fleet).toContain('data-component="fs-fresh"')
    expect(fresh()).toMatch(/p95<\/dt><dd>— /)
    expect((await tile('agents-models', '1h')).html).not.toContain('data-row="gpt-new"')

    // The points are two minutes old, behind the 1-minute watermark: the rollup job, which ticks every
    // minute too, rebuilds their minute before the summaries read it.
    clock += MIN
    await runRollups(t.db, clock)
    const counts = await tick()
    // 1 h is refreshed every minute; 24 h and 7 d are not due yet.
    expect(counts).toMatchObject({ computed: 2, fresh: 4 })
    fleet = (await tile('fleet', '1h')).html
    expect(fresh()).toMatch(/p95<\/dt><dd>3[23]\d ms /)
    expect((await tile('agents-models', '1h')).html).toContain('data-row="gpt-new"')
    expect((await tile('fleet', '24h')).html).toMatch(/data-component="fs-fresh"[\s\S]*?p95<\/dt><dd>— /)

    // Five minutes after their last computation 24 h comes due, 7 d after fifteen.
    const first = await asOf('fleet', '7d')
    clock += 4 * MIN
    expect(await tick()).toMatchObject({ computed: 4, fresh: 2 })
    expect((await tile('fleet', '24h')).html).toMatch(/data-component="fs-fresh"[\s\S]*?p95<\/dt><dd>3[23]\d ms /)
    expect(await asOf('fleet', '7d')).toBe(first)
    clock += 10 * MIN
    expect(await tick()).toMatchObject({ computed: 6, fresh: 0 })
    expect(await asOf('fleet', '7d')).toBe(clock)
  })

  it('an old summary is still shown, saying the job has not refreshed it; another version is not read', async () => {
    clock += 10 * MIN // the 1 h summary is 10 min old: more than three of its periods
    const stale = (await tile('fleet', '1h')).html
    expect(stale).toContain('class="as-of muted stale"')
    expect(stale).toContain('not refreshed since')
    expect((await tile('fleet', '24h')).html).not.toContain('not refreshed since')

    // A row of another shape (left by an older build) is computed per request, then replaced.
    await t.db
      .update(frontSummaries)
      .set({ version: 0, data: { unexpected: true } })
      .where(eq(frontSummaries.range, '7d'))
    const live = await tile('fleet', '7d')
    expect(live.status).toBe(200)
    expect(live.html).not.toContain('class="as-of')
    expect(live.html).toContain('data-component="fs-planner"')
    expect(await tick()).toMatchObject({ computed: 6 })
    expect((await rows()).every((r) => r.version === 1 && r.asOf === clock)).toBe(true)
  })

  it('are read only by who may read the tile', async () => {
    const ingest = (await t.key('viewer', ['ingest'])).headers
    for (const id of SUMMARISED) {
      const refused = await tile(id, '24h', ingest)
      expect(refused.status).toBe(403)
      expect(refused.html).not.toContain('fs-planner')
      const anon = await t.app.request(`/front/tiles/${id}`, { headers: { Accept: 'application/json' } })
      expect(anon.status).toBe(401)
      expect(await anon.text()).not.toContain('fs-planner')
    }
  })
})

describe('the job', () => {
  it('a tile whose figures fail does not keep the others old: the tick fails naming it', async () => {
    const broken: FrontTile = {
      id: 'broken',
      section: 'upkeep',
      order: 99,
      title: 'Broken',
      access: 'viewer',
      render: async () => null,
      summary: {
        version: 1,
        compute: async () => {
          throw new Error('no such table')
        },
      },
    }
    clock += 20 * MIN
    await expect(refreshSummaries(t.db, [broken, ...frontTiles(t.services)], clock)).rejects.toThrow(
      /front summaries not computed: broken 24h: no such table; broken 1h: no such table; broken 7d/,
    )
    const stored = await rows()
    expect(stored.filter((r) => r.asOf === clock)).toHaveLength(6)
    expect(stored.some((r) => r.tile === 'broken')).toBe(false)
  })

  it('runs once per tick across instances sharing the database (the lease)', async () => {
    const other = await openDb({ url: t.config.DATABASE_URL })
    try {
      const second = createRoot({
        config: t.config,
        db: other.db,
        log,
        sealer: t.sealer,
        telemetry: t.telemetry,
        now: () => clock,
      })
      const at = Math.floor(Date.now() / 1000) * 1000 + 7_000
      const outcomes = await Promise.all([
        t.scheduler.runTick('front-summaries', at),
        second.scheduler.runTick('front-summaries', at),
      ])
      expect(outcomes.filter((o) => o === 'ran')).toHaveLength(1)
      expect(outcomes.filter((o) => o === 'ran' || o === 'failed')).toHaveLength(1)
      // The same tick again, on either instance, does not run.
      expect(await t.scheduler.runTick('front-summaries', at)).toBe('not_leader')
      expect(await second.scheduler.runTick('front-summaries', at)).toBe('not_leader')
      const runs = await t.db.select().from(jobRuns).where(eq(jobRuns.job, 'front-summaries'))
      expect(runs.filter((r) => r.tick === at)).toHaveLength(1)
      expect(runs.find((r) => r.tick === at)!.status).toBe('success')
      const status = (await (await t.app.request('/api/v1/jobs', { headers: viewer })).json()) as Json
      expect(status.jobs.find((j: Json) => j.name === 'front-summaries')).toMatchObject({ schedule: '20 * * * * *' })
    } finally {
      other.client.close()
    }
  })
})

describe('an empty Homeostat', () => {
  it('shows the empty states before and after the job, and the job stores empty summaries', async () => {
    const empty = await testApp({}, { now: () => clock })
    try {
      const headers = (await empty.key('viewer')).headers
      const read = async (id: string) =>
        (await empty.app.request(`/front/tiles/${id}`, { headers: { ...headers, 'HX-Request': 'true' } })).text()
      for (const id of SUMMARISED) expect(await read(id)).toContain('class="empty"')
      const emptyJob = frontSummariesJob({ db: empty.db, tiles: frontTiles(empty.services) })
      expect(await emptyJob.handler({ now: clock, tick: clock, log })).toMatchObject({ computed: 6 })
      const fleet = await read('fleet')
      expect(fleet).toContain('href="/help/components"')
      expect(fleet).toContain('No components yet')
      const agents = await read('agents-models')
      expect(agents).toContain('href="/help/opentelemetry"')
      expect(agents).toContain('class="as-of')
      // A first component shows at once, from the live list, though the summary knew none.
      await empty.json(
        'POST',
        '/api/v1/components',
        { name: 'first', kind: 'agent', push: { expectedIntervalSeconds: 60 } },
        (await empty.key('operator')).headers,
      )
      expect(await read('fleet')).toContain('data-component="first"')
    } finally {
      empty.close()
    }
  })
})
