import { type Db, readRows } from '../../../db/client.ts'
import { SKETCH_LIST_SEPARATOR } from './sketch.ts'
import { RESOLUTIONS, type Resolution } from './store.ts'

/** The coarsest stored resolution that divides the step: a 90-day query reads daily rollups. */
export function pickResolution(stepMs: number): Resolution | null {
  let chosen: Resolution | null = null
  for (const r of RESOLUTIONS) if (stepMs % (r * 1000) === 0) chosen = r
  return chosen
}

/** Where a read of [from, to) at `step` comes from: rollup ranges, coarsest first, then raw points from `rawFrom`. */
export type ReadPlan = { rollups: { res: Resolution; start: number; until: number }[]; rawFrom: number }

/**
 * Splits [from, to) so each part comes from the coarsest source that is complete there: rollups of
 * the step's resolution up to their watermark, then finer rollups, then raw points. `marks` holds
 * each resolution's watermark. Every step read (the plain `stepBuckets` and the fleet quantiles)
 * plans through this, so the two cannot read different rows.
 */
export function readPlan(marks: ReadonlyMap<number, number>, q: { from: number; to: number; step: number }) {
  const plan: ReadPlan = { rollups: [], rawFrom: q.from }
  const top = pickResolution(q.step)
  let cursor = q.from
  for (const res of [...RESOLUTIONS].reverse()) {
    if (top === null || res > top) continue
    // Only whole buckets: a `to` inside a bucket leaves that bucket to finer sources.
    const until = Math.min(q.to - (q.to % (res * 1000)), marks.get(res) ?? 0)
    const start = cursor + ((res * 1000 - (cursor % (res * 1000))) % (res * 1000)) // first whole bucket
    if (until <= start) continue
    if (start > cursor) continue // a partial bucket at the start: finer sources cover it
    plan.rollups.push({ res, start, until })
    cursor = until - (until % (res * 1000))
  }
  plan.rawFrom = cursor
  return plan
}

/** Series ids read per statement (well under SQLite's limit on bound values). */
export const IDS_PER_READ = 500

/**
 * Rollup rows of these series in [start, until) at `res`, as arrays of values in the order of
 * `columns` (db/client.ts `readRows`, not Drizzle objects: the hot read of a fleet query is hundreds
 * of thousands of rows, and building an object per row cost more than reading it; each column left
 * out saves as much again, so a quantile reads three and a sum no sketch). Rows come in
 * primary-key order (series, bucket), as Drizzle's read of the same range did.
 */
export async function rollupRows(
  db: Db,
  res: Resolution,
  ids: number[],
  start: number,
  until: number,
  columns: readonly RollupColumn[],
) {
  return readRows(
    db,
    `select ${columns.join(', ')} from rollups
      where resolution = ? and series_id in (${ids.map(() => '?').join(', ')}) and bucket >= ? and bucket < ?`,
    [res, ...ids, start, until],
  )
}

type RollupColumn = 'series_id' | 'bucket' | 'count' | 'sum' | 'min' | 'max' | 'last' | 'last_ts' | 'sketch'

/**
 * The stored sketches of these series in [start, until) at `res`, per series and step: rows of
 * series_id, step start (`bucket - bucket % step`, as `stepBuckets` keys it) and the step's
 * sketches joined by `SKETCH_LIST_SEPARATOR` (sketch.ts), so a 5-minute step of minute rollups
 * crosses into JavaScript as one row, not five. Only for a quantile: merging sketches is adding
 * integer counts, which no order changes (a sum of floats in SQL would not match JavaScript's).
 */
export async function rollupSketches(
  db: Db,
  res: Resolution,
  ids: number[],
  span: { start: number; until: number; step: number },
) {
  if (span.step === res * 1000)
    return rollupRows(db, res, ids, span.start, span.until, ['series_id', 'bucket', 'sketch'])
  return readRows(
    db,
    `select series_id, bucket - bucket % ?, group_concat(sketch, ?) from rollups
      where resolution = ? and series_id in (${ids.map(() => '?').join(', ')}) and bucket >= ? and bucket < ?
      group by 1, 2`,
    [span.step, SKETCH_LIST_SEPARATOR, res, ...ids, span.start, span.until],
  )
}
