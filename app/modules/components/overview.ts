import { asc } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { components } from '../../../db/schema/components.ts'
import { toIso } from '../../lib/time.ts'
import { plan, quantileByComponent, sumsByComponent, watermarks } from '../metrics/index.ts'
import { COST_METRIC, TOKENS_METRIC } from './prices.ts'
import { uptimeSince } from './uptime.ts'

const HOUR = 3_600_000
const DAY = 86_400_000

export const formatRange = (ms: number) =>
  ms % DAY === 0 && ms > DAY
    ? `${ms / DAY}d`
    : ms % HOUR === 0
      ? `${ms / HOUR}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : `${ms}ms`

export const sumOf = (m: Map<string | null, number>) => [...m.values()].reduce((a, b) => a + b, 0)
// In seconds; the overview answers milliseconds (`p95LatencyMs`), as before the rename (metrics/names.ts).
const LLM_LATENCY = 'llm_latency_seconds'
const CHECK_DURATION = 'check_duration_seconds'
const SUMMED = ['agent_requests_total', 'agent_errors_total', TOKENS_METRIC, COST_METRIC]
export const round = (n: number | null | undefined, digits = 4) =>
  n === null || n === undefined ? null : Math.round(n * 10 ** digits) / 10 ** digits

/**
 * The dashboard's data for a range: per component its current status, time-weighted uptime, error
 * rate (sum of agent_errors_total / sum of agent_requests_total for series labelled
 * component=<name>), p95 of llm_latency_seconds (or of the check's check_duration_seconds when the
 * component has none; in ms), tokens and cost; and totals of tokens and cost over every series. Counters are per-request
 * deltas, so sums over the range are totals. The range starts on a whole hour (ranges ≥ 24h) or
 * minute, so rollups serve it: a handful of SQL aggregates over hourly and minute rollups and the
 * raw tail, each driven by the series of one metric name, whatever the number of other series.
 */
export async function overview(
  db: Db,
  range: number,
  now: number,
  opts: { detail?: (rows: { name: string; status: string; errorRate: number | null }[]) => string[] } = {},
) {
  const align = range >= DAY ? HOUR : 60_000
  const from = Math.floor((now - range) / align) * align
  const to = now
  const segs = plan(from, to, await watermarks(db))
  const [list, sums] = await Promise.all([
    db.select().from(components).orderBy(asc(components.name)),
    sumsByComponent(db, SUMMED, segs),
  ])
  // A caller that shows only some components (the front page's grid) asks p95 and uptime of those alone.
  const errorRate = (name: string) => {
    const req = sums.get(SUMMED[0]!)!.get(name)
    return req ? round((sums.get(SUMMED[1]!)!.get(name) ?? 0) / req, 6) : null
  }
  const only = opts.detail?.(list.map((c) => ({ name: c.name, status: c.status, errorRate: errorRate(c.name) })))
  const ids = only && list.filter((c) => only.includes(c.name)).map((c) => c.id)
  const [up, llmP95, checkP95] = await Promise.all([
    uptimeSince(db, from, now, ids),
    quantileByComponent(db, LLM_LATENCY, 0.95, segs, only),
    quantileByComponent(db, CHECK_DURATION, 0.95, segs, only),
  ])
  const [requests, errors, tokens, cost] = SUMMED.map((n) => sums.get(n)!) as [
    Map<string | null, number>,
    Map<string | null, number>,
    Map<string | null, number>,
    Map<string | null, number>,
  ]
  const items = list.map((c) => {
    const req = requests.get(c.name) ?? null
    const err = errors.get(c.name) ?? null
    const llm = llmP95.get(c.name)
    const seconds = llm ?? checkP95.get(c.name)
    const p95 = seconds === undefined ? null : seconds * 1000
    return {
      id: c.id,
      name: c.name,
      kind: c.kind,
      check: c.checkType,
      status: c.status,
      statusSince: toIso(c.statusSince),
      lastCheckAt: toIso(c.lastCheckAt),
      message: c.lastMessage,
      uptime: up.get(c.id)?.[0] ?? null,
      requests: req,
      errors: err,
      errorRate: errorRate(c.name),
      p95LatencyMs: round(p95, 1),
      latencyMetric: p95 === null ? null : llm !== undefined ? LLM_LATENCY : CHECK_DURATION,
      tokens: tokens.get(c.name) ?? null,
      costUsd: round(cost.get(c.name), 6),
    }
  })
  const count = (s: string) => list.filter((c) => c.status === s).length
  return {
    range: formatRange(range),
    from: toIso(from),
    to: toIso(to),
    components: items,
    totals: {
      components: list.length,
      up: count('up'),
      down: count('down'),
      unknown: count('unknown'),
      tokens: sumOf(tokens),
      costUsd: round(sumOf(cost), 6)!,
      requests: sumOf(requests),
      errors: sumOf(errors),
    },
  }
}
export type Overview = Awaited<ReturnType<typeof overview>>
