import { and, eq, gte, inArray, lt } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { rollups, rollupWatermarks, series, type Series } from '../../../db/schema/metrics.ts'
import { readRaw } from './inbox.ts'
import { type Kind, kindOf } from './kinds.ts'
import { storedNames } from './names.ts'
import { addValue, decodeSketch, emptySketch, mergeInto, quantile, scaleSketch, type Sketch } from './sketch.ts'
import { RESOLUTIONS, type Resolution } from './store.ts'

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

export type Bucket = {
  count: number
  sum: number
  min: number
  max: number
  last: number
  lastTs: number
  sketch: Sketch
}

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

/** The coarsest stored resolution that divides the step: a 90-day query reads daily rollups. */
export function pickResolution(stepMs: number): Resolution | null {
  let chosen: Resolution | null = null
  for (const r of RESOLUTIONS) if (stepMs % (r * 1000) === 0) chosen = r
  return chosen
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

/**
 * Reads [from, to) for the series into step buckets, each part from the coarsest source that is
 * complete there: rollups up to their watermark, then finer rollups, then raw points.
 */
export async function stepBuckets(
  db: Db,
  ids: number[],
  q: Pick<QueryInput, 'from' | 'to' | 'step'>,
  scales?: ReadonlyMap<number, number>,
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
  const top = pickResolution(q.step)
  let cursor = q.from
  for (const res of [...RESOLUTIONS].reverse()) {
    if (top === null || res > top) continue
    // Only whole buckets: a `to` inside a bucket leaves that bucket to finer sources.
    const until = Math.min(q.to - (q.to % (res * 1000)), marks.get(res) ?? 0)
    const start = cursor + ((res * 1000 - (cursor % (res * 1000))) % (res * 1000)) // first whole bucket
    if (until <= start) continue
    if (start > cursor) continue // a partial bucket at the start: finer sources cover it
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await db
        .select()
        .from(rollups)
        .where(
          and(
            eq(rollups.resolution, res),
            inArray(rollups.seriesId, ids.slice(i, i + 500)),
            gte(rollups.bucket, start),
            lt(rollups.bucket, until),
          ),
        )
      for (const r of rows) merge(put(r.seriesId, r.bucket), r, decodeSketch(r.sketch))
    }
    cursor = until - (until % (res * 1000))
  }
  if (cursor < q.to) {
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await readRaw(db, ids.slice(i, i + 500), cursor, q.to)
      for (const p of rows) {
        const b = put(p.seriesId, p.ts)
        b.count++
        b.sum += p.value
        b.min = Math.min(b.min, p.value)
        b.max = Math.max(b.max, p.value)
        if (p.ts >= b.lastTs) Object.assign(b, { last: p.value, lastTs: p.ts })
        addValue(b.sketch, p.value)
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

/** Runs a query: one result per series, or per group of `by` labels. */
export async function runQuery(db: Db, q: QueryInput) {
  const [found, kind] = await Promise.all([findSeries(db, q.name, q.match), kindOf(db, q.name)])
  const buckets = await stepBuckets(
    db,
    found.map((s) => s.id),
    q,
    scalesOf(found),
  )
  const results = groupSeries(found, q.by).map((g) => ({
    labels: g.labels,
    series: g.members.length,
    values: groupValues(g.members, buckets, { ...q, kind }),
  }))
  return { resolution: pickResolution(q.step), kind: kind ?? null, series: results }
}
