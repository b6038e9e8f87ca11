import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { plan, quantileByLabel, runRollups, sumsByLabel, watermarks } from '../../app/modules/metrics/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

// The by-label aggregates the front page's tiles read (by-label.ts) may be narrowed to the label
// values a tile shows. A narrowed read must give exactly those values' figures of the full read, over
// raw points and over rollups (hourly, minute and the raw tail), and nothing at all for a value no
// series has or for an empty list (not everything).
let t: TestApp
const MIN = 60_000
const now = Date.now()
const from = Math.floor((now - 3 * 60 * MIN) / MIN) * MIN + 7 * MIN // minute-aligned, not hour-aligned
const NAMES = ['agent_requests_total', 'llm_cost_usd']

beforeAll(async () => {
  t = await testApp()
  const op = (await t.key('operator')).headers
  const at = (ago: number) => now - ago
  const points = [
    // Before the first whole hour (a minute part), inside whole hours, after the hourly watermark, raw tail.
    ...[170, 150, 100, 61, 30, 5].flatMap((m, i) => [
      { name: 'agent_requests_total', value: 10 + i, ts: at(m * MIN), labels: { component: 'a' } },
      { name: 'agent_requests_total', value: 3, ts: at(m * MIN + 1000), labels: { component: 'b', route: 'x' } },
      { name: 'agent_requests_total', value: 2, ts: at(m * MIN + 2000), labels: { component: 'b', route: 'y' } },
      { name: 'agent_requests_total', value: 7, ts: at(m * MIN + 3000), labels: {} }, // no component
      { name: 'agent_requests_total', value: 4, ts: at(m * MIN + 4000), labels: { component: 'c' } },
      { name: 'llm_cost_usd', value: 0.25, ts: at(m * MIN), labels: { component: 'a', model: 'm1' } },
      { name: 'llm_cost_usd', value: 0.5, ts: at(m * MIN), labels: { component: 'b', model: 'm1' } },
    ]),
    ...Array.from({ length: 60 }, (_, i) => ({
      name: 'llm_latency_ms',
      value: 10 * (i + 1),
      ts: at((170 - i * 2.5) * MIN),
      labels: { component: i % 2 ? 'a' : 'b', model: i % 3 ? 'm1' : 'm2' },
    })),
    { name: 'agent_requests_total', value: 1, ts: at(20_000), labels: { component: 'a' } },
  ]
  const res = await t.json('POST', '/api/v1/metrics', { points }, op)
  expect(res.status).toBe(200)
})
afterAll(() => t.close())

type Read = Awaited<ReturnType<typeof read>>
const read = async (label: string, only?: string[]) => {
  const segs = plan(from, now, await watermarks(t.db))
  const [sums, counts, p95] = await Promise.all([
    sumsByLabel(t.db, NAMES, segs, label, 'sum', only),
    sumsByLabel(t.db, ['llm_latency_ms'], segs, label, 'count', only),
    quantileByLabel(t.db, 'llm_latency_ms', 0.95, segs, label, only),
  ])
  const plain = (m: Map<string | null, number>) => Object.fromEntries([...m].map(([k, v]) => [String(k), v]))
  return {
    segs,
    requests: plain(sums.get('agent_requests_total')!),
    cost: plain(sums.get('llm_cost_usd')!),
    calls: plain(counts.get('llm_latency_ms')!),
    p95: Object.fromEntries(p95) as Record<string, number>,
  }
}

const KEYS = ['requests', 'cost', 'calls', 'p95'] as const
/** The narrowed read holds exactly the full read's figures of the values asked for that have any. */
function expectNarrowed(all: Read, narrowed: Read, only: string[]) {
  for (const key of KEYS) {
    const want = Object.keys(all[key]).filter((k) => only.includes(k))
    expect(Object.keys(narrowed[key]).sort(), key).toEqual(want.sort())
    for (const k of want) expect(narrowed[key][k], `${key} ${k}`).toBeCloseTo(all[key][k]!, 9)
  }
}

async function expectNothing(label: string) {
  for (const only of [['nobody'], []]) {
    const none = await read(label, only)
    for (const key of KEYS) expect(none[key], `${key} ${JSON.stringify(only)}`).toEqual({})
  }
}

describe('by-label aggregates narrowed to some label values', () => {
  it('over raw points: a narrowed read gives the full read’s figures of those values only', async () => {
    const all = await read('component')
    expect(all.segs.every((s) => s.res === null)).toBe(true)
    expect(all.requests).toEqual({ a: 10 + 11 + 12 + 13 + 14 + 15 + 1, b: 30, c: 24, null: 42 })
    expectNarrowed(all, await read('component', ['a']), ['a'])
    expectNarrowed(all, await read('component', ['b', 'c', 'nobody']), ['b', 'c', 'nobody'])
    const models = await read('model')
    expect(models.calls).toEqual({ m1: 40, m2: 20 })
    expectNarrowed(models, await read('model', ['m2']), ['m2'])
    await expectNothing('component')
  })

  it('over minute and hourly rollups and the raw tail: the same', async () => {
    const before = await read('component')
    await runRollups(t.db, now)
    const all = await read('component')
    expect(new Set(all.segs.map((s) => s.res))).toEqual(new Set([60, 3600, null]))
    // The rollups give the raw points' figures, so the narrowed reads below compare with the points.
    expectNarrowed(before, all, ['a', 'b', 'c', 'null'])
    expectNarrowed(all, await read('component', ['a']), ['a'])
    const bc = await read('component', ['b', 'c'])
    expectNarrowed(all, bc, ['b', 'c'])
    expect(bc.requests).toEqual({ b: 30, c: 24 })
    const models = await read('model')
    expectNarrowed(models, await read('model', ['m1']), ['m1'])
    await expectNothing('component')
    await expectNothing('model')
  })
})
