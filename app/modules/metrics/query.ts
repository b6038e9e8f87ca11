import { inArray } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { rollupWatermarks, series, type Series } from '../../../db/schema/metrics.ts'
import { groupQuantiles } from './group-quantiles.ts'
import { readRaw } from './inbox.ts'
import { type Kind, kindOf } from './kinds.ts'
import type { Minute } from './minute-pack.ts'
import { storedNames } from './names.ts'
import { IDS_PER_READ, pickResolution, readPlan, rollupRows } from './read-plan.ts'
import { addValue, emptySketch, mergeEncoded, mergeInto, quantile, scaleSketch, type Sketch } from './sketch.ts'

export { pickResolution } from './read-plan.ts'

export const aggregations = ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99', 'rate'] as const
export type Aggregation = (typeof aggregations)[number]

export type QueryInput = {
  name: string
  match: Record<string, string>
  from: number
  to: number
  step: number
  agg: Aggregation
  by: string[]
}

/** A bucket being summed: a stored minute's fields (minute-pack.ts `Minute`) with its sketch decoded, no time of its own. */
export type Bucket = Omit<Minute, 'bucket' | 'sketch'> & { sketch: Sketch }

export const newBucket = (): Bucket => ({
  count: 0,
  sum: 0,
  min: Infinity,
  max: -Infinity,
  last: 0,
  lastTs: -Infinity,
  sketch: emptySketch(),
})

export function merge(
  b: Bucket,
  r: { count: number; sum: number; min: number; max: number; last: number; lastTs: number },
  sketch: Sketch,
) {
  b.count += r.count
  b.sum += r.sum
  b.min = Math.min(b.min, r.min)
  b.max = Math.max(b.max, r.max)
  if (r.lastTs >= b.lastTs) Object.assign(b, { last: r.last, lastTs: r.lastTs })
  mergeInto(b.sketch, sketch)
}

/**
 * A series as a read of a name sees it: `name` is the name asked for, and `scale` turns the stored
 * values into its unit when the series is stored under the other name of a renamed metric (names.ts).
 */
export type ReadSeries = Series & { scale: number }

/**
 * Every series, or those a read of one metric name covers (its old or new name too, names.ts):
 * the catalogue the Prometheus query API reads.
 */
export async function listSeries(db: Db, name?: string): Promise<ReadSeries[]> {
  if (name === undefined) return (await db.select().from(series)).map((s) => ({ ...s, scale: 1 }))
  const names = storedNames(name)
  const rows = await db
    .select()
    .from(series)
    .where(
      inArray(
        series.name,
        names.map((n) => n.name),
      ),
    )
  const scaleOf = new Map(names.map((n) => [n.name, n.scale]))
  return rows.map((s) => ({ ...s, name, scale: scaleOf.get(s.name) ?? 1 }))
}

export async function findSeries(db: Db, name: string, match: Record<string, string>) {
  const rows = await listSeries(db, name)
  return rows.filter((s) => Object.entries(match).every(([k, v]) => (s.labels[k] ?? '') === v))
}

/** The factors of the series read under another unit (none when every factor is 1), for `stepBuckets`. */
export function scalesOf(found: { id: number; scale?: number }[]) {
  const scaled = found.filter((s) => s.scale !== undefined && s.scale !== 1)
  return scaled.length ? new Map(scaled.map((s) => [s.id, s.scale!])) : undefined
}

/** A bucket's values times `factor` (> 0); the count stays. */
function scaleBucket(b: Bucket, factor: number) {
  b.sum *= factor
  b.min *= factor
  b.max *= factor
  b.last *= factor
  b.sketch = scaleSketch(b.sketch, factor)
}

// What a step bucket takes from a rollup row, in this order (and `sketch` last when asked for).
const BUCKET_COLUMNS = ['series_id', 'bucket', 'count', 'sum', 'min', 'max', 'last', 'last_ts'] as const

/**
 * Reads [from, to) for the series into step buckets, each part from the coarsest source that is
 * complete there (read-plan.ts): rollups up to their watermark, then finer rollups, then raw points.
 * `sketches: false` leaves every bucket's sketch empty, for a caller that asks no quantile: the
 * sketch is most of a rollup row and most of the time of reading it.
 */
export async function stepBuckets(
  db: Db,
  ids: number[],
  q: Pick<QueryInput, 'from' | 'to' | 'step'>,
  scales?: ReadonlyMap<number, number>,
  { sketches = true }: { sketches?: boolean } = {},
) {
  const out = new Map<number, Map<number, Bucket>>(ids.map((id) => [id, new Map()]))
  const put = (sid: number, ts: number) => {
    const at = ts - (ts % q.step)
    const m = out.get(sid)!
    let b = m.get(at)
    if (!b) m.set(at, (b = newBucket()))
    return b
  }
  const marks = new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
  const plan = readPlan(marks, q)
  const columns = sketches ? [...BUCKET_COLUMNS, 'sketch' as const] : BUCKET_COLUMNS
  for (const { res, start, until } of plan.rollups)
    for (let i = 0; i < ids.length; i += IDS_PER_READ) {
      for (const r of await rollupRows(db, res, ids.slice(i, i + IDS_PER_READ), start, until, columns)) {
        const b = put(r[0] as number, r[1] as number)
        const lastTs = r[7] as number
        b.count += r[2] as number
        b.sum += r[3] as number
        b.min = Math.min(b.min, r[4] as number)
        b.max = Math.max(b.max, r[5] as number)
        if (lastTs >= b.lastTs) {
          b.last = r[6] as number
          b.lastTs = lastTs
        }
        if (sketches) mergeEncoded(b.sketch, r[8] as Uint8Array)
      }
    }
  if (plan.rawFrom < q.to) {
    for (let i = 0; i < ids.length; i += IDS_PER_READ) {
      const rows = await readRaw(db, ids.slice(i, i + IDS_PER_READ), plan.rawFrom, q.to)
      for (const p of rows) {
        const b = put(p.seriesId, p.ts)
        b.count++
        b.sum += p.value
        b.min = Math.min(b.min, p.value)
        b.max = Math.max(b.max, p.value)
        if (p.ts >= b.lastTs) Object.assign(b, { last: p.value, lastTs: p.ts })
        if (sketches) addValue(b.sketch, p.value)
      }
    }
  }
  // Per series, before any group merges them: series of one group may be stored in different units.
  if (scales) for (const [sid, factor] of scales) for (const b of out.get(sid)?.values() ?? []) scaleBucket(b, factor)
  return out
}

/**
 * A bucket's value for `agg`. `rate` of a cumulative counter is the increase since the previous
 * bucket's last value (a drop is a reset, counted from zero); of a `delta` metric (kinds.ts), whose
 * points are each an interval's increase, it is the bucket's sum.
 */
export function valueOf(
  b: Bucket,
  agg: Aggregation,
  prevLast: number | undefined,
  stepSeconds: number,
  kind?: Kind,
): number | null {
  switch (agg) {
    case 'avg':
      return b.count ? b.sum / b.count : null
    case 'min':
      return b.min
    case 'max':
      return b.max
    case 'sum':
      return b.sum
    case 'count':
      return b.count
    case 'last':
      return b.last
    case 'p50':
      return quantile(b.sketch, 0.5)
    case 'p95':
      return quantile(b.sketch, 0.95)
    case 'p99':
      return quantile(b.sketch, 0.99)
    case 'rate':
      if (kind === 'delta') return b.sum / stepSeconds
      return prevLast === undefined ? null : (b.last >= prevLast ? b.last - prevLast : b.last) / stepSeconds
  }
}

/** Series grouped by the `by` labels (each series on its own when `by` is empty), in first-seen order. */
export function groupSeries(found: Series[], by: string[]) {
  const groups = new Map<string, { labels: Record<string, string>; members: Series[] }>()
  for (const s of found) {
    const labels = by.length ? Object.fromEntries(by.map((k) => [k, s.labels[k] ?? ''])) : s.labels
    const key = JSON.stringify(by.length ? labels : s.id)
    const g = groups.get(key) ?? { labels, members: [] }
    g.members.push(s)
    groups.set(key, g)
  }
  return [...groups.values()]
}

/** One group's step values, time-ordered, from its members' step buckets. */
export function groupValues(
  members: Series[],
  buckets: Map<number, Map<number, Bucket>>,
  q: Pick<QueryInput, 'agg' | 'step'> & { kind?: Kind },
): [number, number][] {
  const perSeriesSum = q.agg === 'rate' || q.agg === 'last' // summed across a group's series
  const values = new Map<number, number>()
  if (perSeriesSum || members.length === 1) {
    for (const m of members) {
      let prev: number | undefined
      for (const [t, b] of [...(buckets.get(m.id) ?? [])].sort(([a], [c]) => a - c)) {
        const v = valueOf(b, q.agg, prev, q.step / 1000, q.kind)
        prev = b.last
        if (v !== null) values.set(t, (values.get(t) ?? 0) + v)
      }
    }
  } else {
    const merged = new Map<number, Bucket>()
    for (const m of members)
      for (const [t, b] of buckets.get(m.id) ?? []) {
        const into = merged.get(t) ?? newBucket()
        merge(into, b, b.sketch)
        merged.set(t, into)
      }
    for (const [t, b] of merged) {
      const v = valueOf(b, q.agg, undefined, q.step / 1000, q.kind)
      if (v !== null) values.set(t, v)
    }
  }
  return [...values].sort(([a], [b]) => a - b)
}

const QUANTILES: Partial<Record<Aggregation, number>> = { p50: 0.5, p95: 0.95, p99: 0.99 }

/** Whether `agg` reads the quantile sketches (`stepBuckets`' `sketches`): only p50, p95 and p99 do. */
export const needsSketches = (agg: Aggregation) => QUANTILES[agg] !== undefined

/**
 * Runs a query: one result per series, or per group of `by` labels. A quantile merges sketches per
 * group and step straight from the stored rows (group-quantiles.ts); every other aggregation reads
 * step buckets without sketches. Both give what `stepBuckets` + `groupValues` give (tests compare).
 */
export async function runQuery(db: Db, q: QueryInput) {
  const [found, kind] = await Promise.all([findSeries(db, q.name, q.match), kindOf(db, q.name)])
  const groups = groupSeries(found, q.by)
  const quantileOf = QUANTILES[q.agg]
  let values: [number, number][][]
  if (quantileOf !== undefined)
    values = await groupQuantiles(db, groups, { ...q, quantile: quantileOf }, scalesOf(found))
  else {
    const ids = found.map((s) => s.id)
    const buckets = await stepBuckets(db, ids, q, scalesOf(found), { sketches: false })
    values = groups.map((g) => groupValues(g.members, buckets, { ...q, kind }))
  }
  const results = groups.map((g, i) => ({ labels: g.labels, series: g.members.length, values: values[i]! }))
  return { resolution: pickResolution(q.step), kind: kind ?? null, series: results }
}
