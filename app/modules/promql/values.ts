import type { Matcher } from './ast.ts'

/** The evaluator's values: per-step series, and the label helpers every part uses. */
export type Labels = Record<string, string>
export type RawSeries = { labels: Labels; ts: number[]; vs: number[] }
/** One step bucket's summary, as the metrics rollups keep it (the quantile from a mergeable sketch). */
export type StepBucket = {
  count: number
  sum: number
  min: number
  max: number
  last: number
  quantile(q: number): number
}
export type Source = {
  /** Series matching `matchers` with their raw points in [from, to], oldest first. */
  select(matchers: Matcher[], from: number, to: number): Promise<RawSeries[]>
  /**
   * Optional: each matching series' buckets [b, b + step) for b in [from, to), keyed by b, read from
   * the coarsest complete rollup (raw points where none is).
   */
  buckets?(
    matchers: Matcher[],
    from: number,
    to: number,
    step: number,
  ): Promise<{ labels: Labels; at: Map<number, StepBucket> }[]>
  /** Optional: the kind of each metric name that has one (a name without one reads as a counter). */
  kinds?(names: string[]): Promise<Map<string, SourceKind>>
}

/** What a metric's points mean (the metrics module's kinds): rate functions read deltas differently. */
export type SourceKind = 'counter' | 'delta' | 'gauge'

export type StepSeries = { labels: Labels; values: (number | undefined)[] }
export type Value = { type: 'scalar'; values: number[] } | { type: 'vector'; series: StepSeries[] }

export const withoutName = (l: Labels) => {
  const { __name__: _, ...rest } = l
  return rest
}
export const labelsKey = (l: Labels) =>
  JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/** The series that have a value at some step. */
export const keepSome = (list: StepSeries[]) => list.filter((s) => s.values.some((x) => x !== undefined))
