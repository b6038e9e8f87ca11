/**
 * The front page's fleet figures for a range: per component its uptime, p95 latency, error rate,
 * cost, a latency sparkline and the change of p95, error rate and cost against the previous period
 * of the same length. The `front-summaries` job computes them for every component and stores them
 * (tiles.tsx reads that); before its first run the tile computes them for the shown components only.
 * The definitions are the overview API's (overview.ts): the same aggregates, the same rounding.
 */
import { asc } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { components } from '../../../db/schema/components.ts'
import { change, type TileRange } from '../../lib/tiles.tsx'
import { bucketMeans, plan, quantileByComponent, sumsByComponent, watermarks } from '../metrics/index.ts'
import { formatRange, round, sumOf } from './overview.ts'
import { COST_METRIC } from './prices.ts'
import { uptimes } from './uptime.ts'

export const SPARK_BUCKETS = 24
/** Components per statement when every one is read (the job): each statement then holds the event loop briefly. */
const CHUNK = 100
// In seconds (the figures are in ms), as the overview API reads them.
const LLM_LATENCY = 'llm_latency_seconds'
const CHECK_DURATION = 'check_duration_seconds'
const REQUESTS = 'agent_requests_total'
const ERRORS = 'agent_errors_total'

export type Figures = {
  uptime: number | null
  errorRate: number | null
  p95LatencyMs: number | null
  latencyMetric: string | null
  costUsd: number | null
  spark: (number | null)[]
  change: { p95: number | null; errorRate: number | null; cost: number | null }
}
/** Keyed by component name; `costUsd` is over every series of the range, a component's or not. */
export type FleetFigures = { range: string; costUsd: number; components: Record<string, Figures> }

export type Listed = { id: string; name: string; status: string }
/** The components as they are now: their status is always read live, whatever the figures' age. */
export const listComponents = (db: Db): Promise<Listed[]> =>
  db
    .select({ id: components.id, name: components.name, status: components.status })
    .from(components)
    .orderBy(asc(components.name))

const statusRank: Record<string, number> = { down: 0, unknown: 1, up: 2 }
type Ranked = { name: string; status: string; errorRate: number | null }
/** Down first, then never checked, then by error rate. */
export const needsALook = (a: Ranked, b: Ranked) =>
  (statusRank[a.status] ?? 1) - (statusRank[b.status] ?? 1) ||
  (b.errorRate ?? -1) - (a.errorRate ?? -1) ||
  a.name.localeCompare(b.name)

const noPause = async () => {}

/**
 * The figures of `range`. Sums over every component (requests, errors and cost choose the grid);
 * the rest for the components `detail` picks (all of them for the job), CHUNK at a time, with
 * `pause` between statements.
 */
export async function fleetFigures(
  db: Db,
  range: TileRange,
  opts: { list: Listed[]; detail: (rows: Ranked[]) => string[]; pause?: () => Promise<void> },
): Promise<FleetFigures> {
  const pause = opts.pause ?? noPause
  const { from, to: at } = range
  const marks = await watermarks(db)
  const segs = plan(from, at, marks)
  const prevSegs = plan(from - (at - from), from, marks)
  // Every component's requests, errors and cost: one metric a statement, with a pause between.
  const [requests, errors, cost] = [new Map(), new Map(), new Map()] as Map<string | null, number>[] as [
    Map<string | null, number>,
    Map<string | null, number>,
    Map<string | null, number>,
  ]
  for (const [metric, into] of [
    [REQUESTS, requests],
    [ERRORS, errors],
    [COST_METRIC, cost],
  ] as const) {
    await pause()
    for (const [k, v] of (await sumsByComponent(db, [metric], segs)).get(metric)!) into.set(k, v)
  }
  const errorRate = (name: string) => {
    const req = requests.get(name)
    return req ? round((errors.get(name) ?? 0) / req, 6) : null
  }
  const out: Record<string, Figures> = {}
  for (const c of opts.list)
    out[c.name] = {
      uptime: null,
      errorRate: errorRate(c.name),
      p95LatencyMs: null,
      latencyMetric: null,
      costUsd: round(cost.get(c.name), 6),
      spark: [],
      change: { p95: null, errorRate: null, cost: null },
    }
  const picked = new Set(opts.detail(opts.list.map((c) => ({ ...c, errorRate: errorRate(c.name) }))))
  const detailed = opts.list.filter((c) => picked.has(c.name))
  for (let i = 0; i < detailed.length; i += CHUNK) {
    const part = detailed.slice(i, i + CHUNK)
    const names = part.map((c) => c.name)
    await pause()
    const up = await uptimes(
      db,
      [at - from],
      at,
      part.map((c) => c.id),
    )
    await pause()
    const llm = await quantileByComponent(db, LLM_LATENCY, 0.95, segs, names)
    await pause()
    const check = await quantileByComponent(db, CHECK_DURATION, 0.95, segs, names)
    await pause()
    const prevSums = await sumsByComponent(db, [REQUESTS, ERRORS, COST_METRIC], prevSegs, names)
    await pause()
    const prevLlm = await quantileByComponent(db, 'llm_latency_ms', 0.95, prevSegs, names)
    await pause()
    const prevCheck = await quantileByComponent(db, 'latency_ms', 0.95, prevSegs, names)
    await pause()
    // The sparkline covers the range in 24 parts from the same start as the figures beside it.
    const sparks = await bucketMeans(db, {
      names: ['llm_latency_ms', 'latency_ms'],
      label: 'component',
      values: names,
      from,
      to: at,
      buckets: SPARK_BUCKETS,
    })
    for (const c of part) {
      const f = out[c.name]!
      const llmP95 = llm.get(c.name)
      const seconds = llmP95 ?? check.get(c.name)
      f.uptime = up.get(c.id)?.[0] ?? null
      f.p95LatencyMs = seconds === undefined ? null : round(seconds * 1000, 1)
      f.latencyMetric = seconds === undefined ? null : llmP95 !== undefined ? LLM_LATENCY : CHECK_DURATION
      f.spark =
        (f.latencyMetric === LLM_LATENCY ? sparks.get('llm_latency_ms')!.get(c.name) : undefined) ??
        sparks.get('latency_ms')!.get(c.name) ??
        sparks.get('llm_latency_ms')!.get(c.name) ??
        []
      const prevReq = prevSums.get(REQUESTS)!.get(c.name)
      const prevErrorRate = prevReq ? (prevSums.get(ERRORS)!.get(c.name) ?? 0) / prevReq : null
      f.change = {
        p95: change(f.p95LatencyMs, prevLlm.get(c.name) ?? prevCheck.get(c.name) ?? null),
        errorRate: change(f.errorRate, prevErrorRate),
        cost: change(f.costUsd, prevSums.get(COST_METRIC)!.get(c.name) ?? null),
      }
    }
  }
  return { range: formatRange(range.ms), costUsd: round(sumOf(cost), 6)!, components: out }
}
