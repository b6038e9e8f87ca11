import type { Db } from '../../../db/client.ts'
import type { Series } from '../../../db/schema/metrics.ts'
import { kindOf } from './kinds.ts'
import {
  findSeries,
  scalesOf,
  groupSeries,
  groupValues,
  merge,
  needsSketches,
  newBucket,
  stepBuckets,
  valueOf,
  type Aggregation,
  type Bucket,
} from './query.ts'

const HOUR = 3_600_000
const LATEST_REPRESENTABLE_MS = 8.64e15 // the last instant a JS Date (and RFC 3339 here) can hold
const MIN_Z_POINTS = 3

export type TrendStats = {
  points: number
  latest: { t: number; value: number } | null
  mean: number | null
  std: number | null
  zScore: number | null
  slopePerHour: number | null
  r2: number | null
  /** When the fitted line reaches the threshold (ms), or null if it never will from `now` on. */
  forecastAt: number | null
}

/** Below this spread the values count as equal: float noise must not turn a flat line into a slope. */
const isFlat = (spread: number, mean: number) => spread <= 1e-12 * Math.max(1, Math.abs(mean))

/**
 * Trend statistics of one series of step values `[time ms, value]`, in time order.
 * - mean and population standard deviation of the values; the z-score of the last value against
 *   them (null with fewer than 3 points or no spread);
 * - an ordinary least-squares line through (time, value): slope per hour and r² (r² is null when
 *   the values are all equal: there is nothing for a line to explain);
 * - with a threshold, the time the line reaches it, if that is at or after `now` (a line moving away
 *   from the threshold, or flat, never reaches it: null).
 */
export function trendStats(values: [number, number][], threshold?: number, now = values.at(-1)?.[0] ?? 0): TrendStats {
  const n = values.length
  const empty: TrendStats = {
    points: n,
    latest: null,
    mean: null,
    std: null,
    zScore: null,
    slopePerHour: null,
    r2: null,
    forecastAt: null,
  }
  if (!n) return empty
  const [lastT, lastV] = values[n - 1]!
  const t0 = values[0]![0]
  const xs = values.map(([t]) => (t - t0) / HOUR)
  const ys = values.map(([, v]) => v)
  const mean = ys.reduce((a, b) => a + b, 0) / n
  const xMean = xs.reduce((a, b) => a + b, 0) / n
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - xMean
    const dy = ys[i]! - mean
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  const std = Math.sqrt(syy / n)
  const flat = isFlat(std, mean)
  const out: TrendStats = { ...empty, latest: { t: lastT, value: lastV }, mean, std: flat ? 0 : std }
  if (n >= MIN_Z_POINTS && !flat) out.zScore = (lastV - mean) / std
  if (n < 2 || sxx === 0) return out // one instant: no line
  if (flat) {
    out.slopePerHour = 0
    return out
  }
  const slope = sxy / sxx
  out.slopePerHour = slope
  out.r2 = Math.min(1, (sxy * sxy) / (sxx * syy))
  if (threshold !== undefined && !isFlat(Math.abs(slope) * Math.sqrt(sxx / n), mean)) {
    const intercept = mean - slope * xMean // value at t0
    const at = t0 + ((threshold - intercept) / slope) * HOUR
    if (Number.isFinite(at) && at >= now && at <= LATEST_REPRESENTABLE_MS) out.forecastAt = Math.round(at)
  }
  return out
}

/** Change from the previous window: absolute, and in percent of the previous value's magnitude. */
export function change(current: number | null, previous: number | null) {
  if (current === null || previous === null) return { abs: null, pct: null }
  const abs = current - previous
  return { abs, pct: previous === 0 ? null : (abs / Math.abs(previous)) * 100 }
}

const NICE_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 14_400, 21_600, 43_200, 86_400, 172_800,
  604_800,
].map((s) => s * 1000)

/** About 60 steps to a window: the smallest round step of at least window/60 that divides it. */
export function defaultStep(windowMs: number) {
  const dividing = NICE_STEPS.filter((s) => windowMs % s === 0)
  return dividing.find((s) => s >= windowMs / 60) ?? dividing.at(-1) ?? 1000
}

/** The aggregate of a whole window, from the step buckets that lie in it. */
function windowValue(
  members: Series[],
  buckets: Map<number, Map<number, Bucket>>,
  agg: Aggregation,
  from: number,
  to: number,
  steps: [number, number][],
  step: number,
) {
  const inWindow = (ids: number[]) => {
    const b = newBucket()
    for (const id of ids) for (const [t, x] of buckets.get(id) ?? []) if (t >= from && t < to) merge(b, x, x.sketch)
    return b
  }
  if (agg === 'rate') {
    // Per-second increase over the window: each step's rate covers one step.
    const rates = steps.filter(([t]) => t >= from && t < to)
    return rates.length ? (rates.reduce((a, [, r]) => a + r, 0) * step) / (to - from) : null
  }
  if (agg === 'last') {
    // The latest value of each series, summed over the group (as the query does per step).
    const lasts = members.map((m) => inWindow([m.id])).filter((b) => b.count > 0)
    return lasts.length ? lasts.reduce((a, b) => a + b.last, 0) : null
  }
  const b = inWindow(members.map((m) => m.id))
  return b.count ? valueOf(b, agg, undefined, (to - from) / 1000) : null
}

export type TrendInput = {
  name: string
  match: Record<string, string>
  by: string[]
  agg: Aggregation
  window: number
  step: number
  now: number
  threshold?: number
}

/**
 * Trends of a metric, per series or `by` group. Windows are whole steps ending at the last step
 * boundary at or before `now`: current [end − window, end), previous [end − 2·window, end − window).
 */
export async function computeTrends(db: Db, q: TrendInput) {
  const end = q.now - (q.now % q.step)
  const start = end - q.window
  const from = start - q.window
  const [found, kind] = await Promise.all([findSeries(db, q.name, q.match), kindOf(db, q.name)])
  const buckets = await stepBuckets(
    db,
    found.map((s) => s.id),
    { from, to: end, step: q.step },
    scalesOf(found),
    { sketches: needsSketches(q.agg) },
  )
  const series = groupSeries(found, q.by).map((g) => {
    const steps = groupValues(g.members, buckets, { agg: q.agg, step: q.step, kind })
    const current = windowValue(g.members, buckets, q.agg, start, end, steps, q.step)
    const previous = windowValue(g.members, buckets, q.agg, from, start, steps, q.step)
    const stats = trendStats(
      steps.filter(([t]) => t >= start),
      q.threshold,
      q.now,
    )
    return { labels: g.labels, series: g.members.length, current, previous, change: change(current, previous), stats }
  })
  return { current: { from: start, to: end }, previous: { from, to: start }, series }
}
