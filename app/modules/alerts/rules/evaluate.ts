/**
 * Rule evaluation. `readMetric` reads step buckets through the metrics query functions (per rule,
 * or shared by a cycle's rules through `cycleReader`); everything else here is pure: the value of each kind of rule per label set, and whether it breaches.
 */
import type { Db } from '../../../../db/client.ts'
import type { AlertRule, Comparator, LabelMatcher } from '../../../../db/schema/alerts.ts'
import type { Series } from '../../../../db/schema/metrics.ts'
import {
  findSeries,
  type Kind,
  kindOf,
  scalesOf,
  groupSeries,
  merge,
  newBucket,
  stepBuckets,
  valueOf,
  type Aggregation,
  type Bucket,
} from '../../metrics/index.ts'
import { compileMatchers, pinnedLabels } from '../../../lib/matchers.ts'

/**
 * One label set's series: each member's buckets by step start. `delta`: the metric's points are
 * per-interval increases (metrics kinds.ts), so its `rate` is their sum over the window.
 */
export type Group = {
  labels: Record<string, string>
  members: Map<number, Bucket>[]
  lastSeenAt: number
  delta?: boolean
}

/** What a rule finds for one label set now: its value, and whether the condition holds. */
export type Candidate = { labels: Record<string, string>; value: number | null; holds: boolean }

export type RuleSpec = Pick<
  AlertRule,
  'kind' | 'metric' | 'matchers' | 'by' | 'agg' | 'windowMs' | 'comparator' | 'value' | 'params'
>

/** Step size for reading a span: whole minutes use minute buckets (and the 1m rollups), else seconds. */
export const stepFor = (...spans: number[]) => (spans.every((s) => s % 60_000 === 0) ? 60_000 : 1000)

/** A metric's series and their step buckets (by series id, then step start) from `from`. */
export type MetricRead = {
  series: Series[]
  buckets: Map<number, Map<number, Bucket>>
  from: number
  kind?: Kind
}

/**
 * THE read of rule evaluation: the series of `metric` that `keep` selects and their step buckets
 * over [from, to). Every rule reads through here (directly or through a cycle's `Reader`), so a
 * change in how points are stored changes only `stepBuckets` and this.
 */
export async function readMetric(
  db: Db,
  metric: string,
  keep: (s: Series) => boolean,
  span: { from: number; to: number; step: number },
): Promise<MetricRead> {
  const [all, kind] = await Promise.all([findSeries(db, metric, {}), kindOf(db, metric)])
  const found = all.filter(keep)
  return {
    kind,
    series: found,
    buckets: found.length
      ? await stepBuckets(
          db,
          found.map((s) => s.id),
          span,
          scalesOf(found),
        )
      : new Map(),
    from: span.from,
  }
}

/** What a rule reads: a metric's matching series over [now - span, now) in steps. */
export type ReadSpec = { metric: string; matchers: LabelMatcher[]; span: number; step: number; seenSince?: number }
/** Reads for `loadGroups`: the series of q.metric (at least those `keep` selects) and their buckets over at least [now - span, now). */
export type Reader = (q: {
  metric: string
  step: number
  span: number
  now: number
  keep: (s: Series) => boolean
}) => Promise<MetricRead>

/** The first step start a read of `span` before `now` covers. */
const startOf = (now: number, span: number, step: number) => now - span - ((now - span) % step)

/** One rule on its own: only its matching series, only its window. */
export const directReader =
  (db: Db): Reader =>
  (q) =>
    readMetric(db, q.metric, q.keep, { from: startOf(q.now, q.span, q.step), to: q.now, step: q.step })

/**
 * A cycle's reads, shared by its rules: per metric and step, every series over the widest span
 * any of the rules reads (`loadGroups` gives each rule only the buckets of its own span). The
 * last `keep` metrics' reads are kept, so evaluate the rules grouped by metric (`byMetric`).
 */
export function cycleReader(db: Db, rules: RuleSpec[], now: number, keep = 4): Reader {
  const id = (metric: string, step: number) => `${metric}\u0000${step}`
  const widest = new Map<string, number>()
  for (const rule of rules)
    for (const q of readsOf(rule, now))
      widest.set(id(q.metric, q.step), Math.max(widest.get(id(q.metric, q.step)) ?? 0, q.span))
  const memo = new Map<string, { span: number; read: Promise<MetricRead> }>()
  return (q) => {
    const k = id(q.metric, q.step)
    let hit = memo.get(k)
    memo.delete(k)
    if (!hit || hit.span < q.span || q.now !== now) {
      const span = Math.max(widest.get(k) ?? 0, q.span)
      const read = readMetric(db, q.metric, () => true, { from: startOf(q.now, span, q.step), to: q.now, step: q.step })
      if (q.now !== now) return read
      const entry = (hit = { span, read })
      void read.catch(() => memo.get(k) === entry && memo.delete(k))
    }
    memo.set(k, hit)
    while (memo.size > keep) memo.delete(memo.keys().next().value!)
    return hit.read
  }
}

/** Rules in an order that lets a `cycleReader` read each metric once. */
export const byMetric = <R extends RuleSpec>(rules: R[]) =>
  [...rules].sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0))

/** Reads the matching series' step buckets over [now - span, now), grouped by the `by` labels. */
export async function loadGroups(
  db: Db,
  q: ReadSpec & { by: string[]; now: number },
  reader: Reader = directReader(db),
): Promise<Group[]> {
  const match = compileMatchers(q.matchers)
  const keep = (s: Series) => match(s.labels) && (q.seenSince === undefined || s.lastSeenAt >= q.seenSince)
  const read = await reader({ metric: q.metric, step: q.step, span: q.span, now: q.now, keep })
  const found = read.series.filter(keep)
  if (!found.length) return []
  // A shared read may reach further back than this rule: keep only its own span's buckets.
  const from = startOf(q.now, q.span, q.step)
  const own = (m: Map<number, Bucket> | undefined) => {
    if (!m) return new Map<number, Bucket>()
    if (read.from >= from) return m
    const out = new Map<number, Bucket>()
    for (const [k, b] of m) if (k >= from) out.set(k, b)
    return out
  }
  return groupSeries(found, q.by).map((g) => ({
    labels: g.labels,
    members: g.members.map((m) => own(read.buckets.get(m.id))),
    lastSeenAt: Math.max(...g.members.map((m) => m.lastSeenAt)),
    delta: read.kind === 'delta',
  }))
}

/** Which window a bucket falls in, counting back from now: 0 is [now - size, now). */
const windowIndex = (key: number, now: number, size: number) => Math.floor((now - 1 - key) / size)

/**
 * A group's value over window `index` (windows of `size` ms counted back from now): buckets merged
 * across members, or for `rate` the members' summed increase per second (of a delta metric, the sum
 * of its points). Null when it has no data.
 */
export function windowValue(g: Group, agg: Aggregation, now: number, size: number, index = 0): number | null {
  if (agg === 'rate' && g.delta) {
    const into = newBucket()
    for (const m of g.members)
      for (const [key, b] of m) if (windowIndex(key, now, size) === index) merge(into, b, b.sketch)
    return into.count ? into.sum / (size / 1000) : null
  }
  if (agg === 'rate') {
    let increase = 0
    let seen = false
    for (const m of g.members) {
      let prev: number | undefined
      for (const [key, b] of [...m].sort(([a], [c]) => a - c)) {
        const i = windowIndex(key, now, size)
        if (i > index + 1 || i < index) continue
        if (i === index && prev !== undefined) {
          increase += b.last >= prev ? b.last - prev : b.last
          seen = true
        }
        prev = b.last
      }
    }
    return seen ? increase / (size / 1000) : null
  }
  const into = newBucket()
  for (const m of g.members)
    for (const [key, b] of m) if (windowIndex(key, now, size) === index) merge(into, b, b.sketch)
  return into.count ? valueOf(into, agg, undefined, size / 1000) : null
}

export function compare(v: number, op: Comparator, x: number): boolean {
  switch (op) {
    case '>':
      return v > x
    case '>=':
      return v >= x
    case '<':
      return v < x
    case '<=':
      return v <= x
    case '==':
      return v === x
    case '!=':
      return v !== x
  }
}

const breach = (rule: RuleSpec, value: number | null) =>
  value !== null && Number.isFinite(value) && compare(value, rule.comparator ?? '>', rule.value ?? 0)
const agg = (rule: RuleSpec) => rule.agg as Aggregation
const key = (labels: Record<string, string>) =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))

/** threshold: the aggregate over the window against the value. */
export function thresholdCandidates(rule: RuleSpec, groups: Group[], now: number): Candidate[] {
  return groups.map((g) => {
    const value = windowValue(g, agg(rule), now, rule.windowMs)
    return { labels: g.labels, value, holds: breach(rule, value) }
  })
}

/** ratio: numerator ÷ denominator over the window, joined by label set; no value where the denominator is 0 or missing. */
export function ratioCandidates(rule: RuleSpec, numerator: Group[], denominator: Group[], now: number): Candidate[] {
  const denominators = new Map(denominator.map((g) => [key(g.labels), windowValue(g, agg(rule), now, rule.windowMs)]))
  return numerator.map((g) => {
    const top = windowValue(g, agg(rule), now, rule.windowMs)
    const bottom = denominators.get(key(g.labels)) ?? null
    const value = top !== null && bottom ? top / bottom : null
    return { labels: g.labels, value, holds: breach(rule, value) }
  })
}

/** How many ms before the current window `change` reads, for its reference. */
export const changeReach = (rule: RuleSpec) =>
  rule.params.compareTo === 'baseline' ? (rule.params.baselineMs ?? 86_400_000) : rule.windowMs

/**
 * change: the window against the previous window, or against the mean of window-sized steps over
 * the baseline before it; in percent (default) or as current ÷ reference. No value when the reference is 0.
 */
export function changeCandidates(rule: RuleSpec, groups: Group[], now: number): Candidate[] {
  const steps = Math.max(1, Math.floor(changeReach(rule) / rule.windowMs))
  return groups.map((g) => {
    const current = windowValue(g, agg(rule), now, rule.windowMs, 0)
    const refs: number[] = []
    for (let i = 1; i <= steps; i++) {
      const v = windowValue(g, agg(rule), now, rule.windowMs, i)
      if (v !== null) refs.push(v)
    }
    const reference = refs.length ? refs.reduce((a, b) => a + b, 0) / refs.length : null
    const value =
      current === null || !reference
        ? null
        : rule.params.unit === 'ratio'
          ? current / reference
          : ((current - reference) / Math.abs(reference)) * 100
    return { labels: g.labels, value, holds: breach(rule, value) }
  })
}

/** absence: label sets with no point in the last N minutes (or the matchers' labels when nothing matches at all). */
export function absenceCandidates(rule: RuleSpec, groups: Group[], now: number): Candidate[] {
  const span = (rule.params.minutes ?? 5) * 60_000
  if (!groups.length) return [{ labels: pinnedLabels(rule.matchers), value: null, holds: true }]
  return groups.map((g) => {
    const present = g.members.some((m) => [...m].some(([k, b]) => b.count > 0 && windowIndex(k, now, span) === 0))
    return { labels: g.labels, value: present ? 0 : Math.round((now - g.lastSeenAt) / 60_000), holds: !present }
  })
}

/**
 * anomaly: the z-score of the last step's value against the other steps in the window. Fires when
 * |z| reaches params.zScore (only upwards or downwards with params.direction). Needs 3 earlier steps
 * with data and some spread.
 */
export function anomalyCandidates(rule: RuleSpec, groups: Group[], now: number): Candidate[] {
  const step = rule.params.stepMs ?? 60_000
  const n = Math.floor(rule.windowMs / step)
  const limit = rule.params.zScore ?? 3
  const direction = rule.params.direction ?? 'both'
  return groups.map((g) => {
    const current = windowValue(g, agg(rule), now, step, 0)
    const past: number[] = []
    for (let i = 1; i < n; i++) {
      const v = windowValue(g, agg(rule), now, step, i)
      if (v !== null) past.push(v)
    }
    if (current === null || past.length < 3) return { labels: g.labels, value: null, holds: false }
    const mean = past.reduce((a, b) => a + b, 0) / past.length
    const sd = Math.sqrt(past.reduce((a, b) => a + (b - mean) ** 2, 0) / past.length)
    if (sd === 0) return { labels: g.labels, value: null, holds: false }
    const z = (current - mean) / sd
    const holds = direction === 'up' ? z >= limit : direction === 'down' ? z <= -limit : Math.abs(z) >= limit
    return { labels: g.labels, value: z, holds }
  })
}

/** What a rule reads: its metric (and a ratio's denominator) over the span and step its kind needs. */
export function readsOf(rule: RuleSpec, now: number): ReadSpec[] {
  const base = { metric: rule.metric, matchers: rule.matchers }
  switch (rule.kind) {
    case 'threshold':
      return [{ ...base, span: rule.windowMs, step: stepFor(rule.windowMs) }]
    case 'ratio': {
      const step = stepFor(rule.windowMs)
      return [
        { ...base, span: rule.windowMs, step },
        {
          metric: rule.params.denominator ?? rule.metric,
          matchers: rule.params.denominatorMatchers ?? rule.matchers,
          span: rule.windowMs,
          step,
        },
      ]
    }
    case 'change': {
      const span = rule.windowMs + changeReach(rule)
      return [{ ...base, span, step: stepFor(rule.windowMs, span) }]
    }
    case 'absence': {
      const span = (rule.params.minutes ?? 5) * 60_000
      const lookback = Math.max(86_400_000, 2 * span)
      return [{ ...base, span, step: stepFor(span), seenSince: now - lookback }]
    }
    case 'anomaly': {
      const step = rule.params.stepMs ?? 60_000
      return [{ ...base, span: rule.windowMs, step: stepFor(step, rule.windowMs) }]
    }
  }
}

/** What a rule finds now, per label set: reads the data it needs (through `reader`) and applies its kind. */
export async function evaluateRule(
  db: Db,
  rule: RuleSpec,
  now: number,
  reader: Reader = directReader(db),
): Promise<Candidate[]> {
  const groups: Group[][] = []
  for (const q of readsOf(rule, now)) groups.push(await loadGroups(db, { ...q, by: rule.by, now }, reader))
  switch (rule.kind) {
    case 'threshold':
      return thresholdCandidates(rule, groups[0]!, now)
    case 'ratio':
      return ratioCandidates(rule, groups[0]!, groups[1]!, now)
    case 'change':
      return changeCandidates(rule, groups[0]!, now)
    case 'absence':
      return absenceCandidates(rule, groups[0]!, now)
    case 'anomaly':
      return anomalyCandidates(rule, groups[0]!, now)
  }
}
