/**
 * The range functions and histogram_quantile, as Prometheus computes them (promql/functions.go,
 * promql/quantile.go), on plain arrays so that they can be tested on hand-computed series.
 */

/** Samples in a window, oldest first: `ts` in ms. */
export type Window = { ts: number[]; vs: number[] }

/**
 * rate / increase / delta with Prometheus' extrapolation: the increase between the first and last
 * sample (counter resets add the value before the reset), stretched towards the window's edges by
 * at most half the average sample interval (or to where a counter would have been zero).
 */
export function extrapolatedRate(
  w: Window,
  rangeStart: number,
  rangeEnd: number,
  isCounter: boolean,
  isRate: boolean,
): number | undefined {
  const n = w.ts.length
  if (n < 2) return undefined
  const first = w.vs[0]!
  const last = w.vs[n - 1]!
  let result = last - first
  if (isCounter) for (let i = 1; i < n; i++) if (w.vs[i]! < w.vs[i - 1]!) result += w.vs[i - 1]!
  let toStart = (w.ts[0]! - rangeStart) / 1000
  let toEnd = (rangeEnd - w.ts[n - 1]!) / 1000
  const sampled = (w.ts[n - 1]! - w.ts[0]!) / 1000
  const avgGap = sampled / (n - 1)
  const threshold = avgGap * 1.1
  if (toStart >= threshold) toStart = avgGap / 2
  if (isCounter && result > 0 && first >= 0) {
    const toZero = sampled * (first / result)
    if (toZero < toStart) toStart = toZero
  }
  if (toEnd >= threshold) toEnd = avgGap / 2
  let factor = (sampled + toStart + toEnd) / sampled
  if (isRate) factor /= (rangeEnd - rangeStart) / 1000
  return result * factor
}

/**
 * rate / increase / irate of a delta series (each sample the increase of its own interval, as
 * OpenTelemetry's delta temporality and Homeostat's per-call points): the increase over the window
 * is the sum of its samples, with no extrapolation and no resets; irate is the last sample over
 * the time since the one before it.
 */
export function deltaRate(fn: 'rate' | 'increase' | 'irate', w: Window, rangeMs: number): number | undefined {
  const n = w.ts.length
  if (fn === 'irate') {
    if (n < 2) return undefined
    const dt = (w.ts[n - 1]! - w.ts[n - 2]!) / 1000
    return dt === 0 ? undefined : w.vs[n - 1]! / dt
  }
  if (!n) return undefined
  const sum = w.vs.reduce((a, b) => a + b, 0)
  return fn === 'rate' ? sum / (rangeMs / 1000) : sum
}

/** irate: the per-second rate between the last two samples (a drop is a counter reset). */
export function instantRate(w: Window): number | undefined {
  const n = w.ts.length
  if (n < 2) return undefined
  const last = w.vs[n - 1]!
  const prev = w.vs[n - 2]!
  const dt = (w.ts[n - 1]! - w.ts[n - 2]!) / 1000
  if (dt === 0) return undefined
  return (last < prev ? last : last - prev) / dt
}

/** φ-quantile of values with linear interpolation between the closest ranks (Prometheus' `quantile`). */
export function quantileOf(q: number, values: number[]): number {
  if (!values.length || Number.isNaN(q)) return NaN
  if (q < 0) return -Infinity
  if (q > 1) return Infinity
  const sorted = [...values].sort((a, b) => a - b)
  const rank = q * (sorted.length - 1)
  const lower = Math.max(0, Math.floor(rank))
  const upper = Math.min(sorted.length - 1, lower + 1)
  const weight = rank - Math.floor(rank)
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight
}

export function overTime(fn: string, w: Window, q?: number): number | undefined {
  const n = w.vs.length
  if (!n) return undefined
  switch (fn) {
    case 'count_over_time':
      return n
    case 'sum_over_time':
      return w.vs.reduce((a, b) => a + b, 0)
    case 'avg_over_time':
      return w.vs.reduce((a, b) => a + b, 0) / n
    case 'min_over_time':
      return w.vs.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a))
    case 'max_over_time':
      return w.vs.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a))
    case 'last_over_time':
      return w.vs[n - 1]
    case 'quantile_over_time':
      return quantileOf(q ?? NaN, w.vs)
  }
  return undefined
}

/**
 * histogram_quantile over classic buckets (`le` upper bounds, cumulative counts): the bucket that
 * holds the rank, interpolated linearly inside it. NaN without a +Inf bucket or observations.
 */
export function bucketQuantile(q: number, buckets: { le: number; count: number }[]): number {
  if (Number.isNaN(q)) return NaN
  if (q < 0) return -Infinity
  if (q > 1) return Infinity
  const b = [...buckets].sort((x, y) => x.le - y.le)
  if (b.length < 2 || b[b.length - 1]!.le !== Infinity) return NaN
  // Counts must not fall as bounds rise (a scrape racing the buckets can make them): take the running max.
  for (let i = 1; i < b.length; i++) if (b[i]!.count < b[i - 1]!.count) b[i] = { ...b[i]!, count: b[i - 1]!.count }
  const total = b[b.length - 1]!.count
  if (total === 0) return NaN
  let rank = q * total
  let i = b.findIndex((x) => x.count >= rank)
  if (i === -1) i = b.length - 1
  if (i === b.length - 1) return b[b.length - 2]!.le
  if (i === 0 && b[0]!.le <= 0) return b[0]!.le
  const start = i === 0 ? 0 : b[i - 1]!.le
  let count = b[i]!.count
  if (i > 0) {
    count -= b[i - 1]!.count
    rank -= b[i - 1]!.count
  }
  return start + (b[i]!.le - start) * (rank / count)
}
