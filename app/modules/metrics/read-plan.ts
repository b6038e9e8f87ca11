import { type Db, readRows } from '../../../db/client.ts'
import { minuteSketches, readMinutes } from './minutes.ts'
import { concatSketchesSql } from './sketch.ts'
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
 * out saves as much again, so a sum reads no sketch). `last` and `last_ts` come back as they were
 * written (the row keeps `last` null when it equals `max`, and the time as an offset: ADR 0022).
 * Rows come in primary-key order (series, bucket), as Drizzle's read of the same range did.
 */
export async function rollupRows(
  db: Db,
  res: Resolution,
  ids: number[],
  start: number,
  until: number,
  columns: readonly RollupColumn[],
) {
  // The minute tier is packed an hour a row (ADR 0030): its minutes decoded into the same rows.
  if (res === 60) return (await readMinutes(db, ids, start, until)).map((m) => columns.map((c) => MINUTE_COLUMN[c](m)))
  return readRows(
    db,
    `select ${columns.map((c) => COLUMN_SQL[c]).join(', ')} from rollups
      where resolution = ? and series_id in (${ids.map(() => '?').join(', ')}) and bucket >= ? and bucket < ?`,
    [res, ...ids, start, until],
  )
}

const COLUMN_SQL = {
  series_id: 'series_id',
  bucket: 'bucket',
  count: 'count',
  sum: 'sum',
  min: 'min',
  max: 'max',
  last: 'coalesce(last, max)',
  last_ts: 'bucket + last_offset',
  sketch: 'sketch',
} as const
type RollupColumn = keyof typeof COLUMN_SQL

/** A series' stored sketches in a range: one blob, cut into steps as runs (`sizes[j]` sketches at step `steps[j]`). */
export type SketchRuns = { id: number; blob: Uint8Array; steps: number[]; sizes: number[] }

const MINUTE_COLUMN: Record<RollupColumn, (m: Awaited<ReturnType<typeof readMinutes>>[number]) => unknown> = {
  series_id: (m) => m.seriesId,
  bucket: (m) => m.bucket,
  count: (m) => m.count,
  sum: (m) => m.sum,
  min: (m) => m.min,
  max: (m) => m.max,
  last: (m) => m.last,
  last_ts: (m) => m.lastTs,
  sketch: (m) => m.sketch,
}

/**
 * The quantile sketches of these series in [start, until) at `res`, one row a series, in its key
 * order (no sort: SQLite walks the primary key and concatenates as it goes): every sketch of its rows
 * back to back as one blob, and which step each belongs to, as runs of consecutive sketches of one
 * step (group-quantiles.ts reads "the next n sketches" of a run). Sketches say where they end (sketch.ts),
 * so the blob needs no separator and never passes through a text form.
 *
 * Where a series has a row in every bucket of its span (the usual case: hourly and daily rollups of
 * a live series), its rows' buckets follow from the first, the last and the count, so only those
 * are read; joining every row's bucket as text in SQL cost as much as concatenating the sketches. A
 * series with gaps is read again, blob and buckets together in one statement, so the two always
 * describe the same rows (a rollup written between the statements cannot cut a blob wrongly).
 *
 * So a series crosses into JavaScript as one row (two hundred rows for a fleet of 200, not one per
 * bucket); earlier versions grouped per series and step (or per group and step) in SQL, and the
 * temporary B-tree of that GROUP BY cost more than everything else in the read.
 */
export async function seriesSketchRuns(
  db: Db,
  res: Resolution,
  ids: number[],
  span: { start: number; until: number; step: number },
): Promise<SketchRuns[]> {
  if (res === 60)
    return (await minuteSketches(db, ids, span.start, span.until)).map((r) => {
      const runs = stepRuns(r.seriesId, r.blob, span.step)
      for (const b of r.buckets) runs.add(b)
      return runs.done()
    })
  const width = res * 1000
  const where = (n: number) =>
    `where resolution = ? and series_id in (${new Array(n).fill('?').join(', ')}) and bucket >= ? and bucket < ?
      group by series_id`
  const out: SketchRuns[] = []
  const gapped: number[] = []
  const dense = await readRows(
    db,
    `select series_id, count(*), min(bucket), max(bucket), ${concatSketchesSql('sketch')} from rollups ${where(ids.length)}`,
    [res, ...ids, span.start, span.until],
  )
  for (const r of dense) {
    const [id, n, first, last] = r as number[]
    if ((last! - first!) / width + 1 !== n) {
      gapped.push(id!)
      continue
    }
    out.push(denseRuns(id!, r[4], first!, last!, width, span.step))
  }
  if (gapped.length) {
    const rows = await readRows(
      db,
      `select series_id, ${concatSketchesSql('sketch')}, group_concat(bucket) from rollups ${where(gapped.length)}`,
      [res, ...gapped, span.start, span.until],
    )
    for (const r of rows) {
      const runs = stepRuns(r[0] as number, r[1], span.step)
      const buckets = String(r[2])
      let pos = 0
      for (let c = 0; c <= buckets.length; c++) {
        if (c < buckets.length && buckets.charCodeAt(c) !== 44) continue
        runs.add(Number(buckets.slice(pos, c)))
        pos = c + 1
      }
      out.push(runs.done())
    }
  }
  return out
}

const blobOf = (stored: unknown) => (stored instanceof Uint8Array ? stored : new Uint8Array(stored as ArrayBuffer))

/**
 * The runs of a series with a row in every bucket from `first` to `last`: a step's run is its buckets
 * in that span, counted rather than added one by one (30 days of hourly rows are 720 buckets a series).
 */
function denseRuns(id: number, stored: unknown, first: number, last: number, width: number, step: number) {
  // Off the grid (a step not of whole buckets, or a bucket not at a multiple of its width: hourly rows the
  // job wrote at their hour's first minute before rollup.ts `addRow` was fixed, ADR 0032): one by one.
  if (step % width !== 0 || first % width !== 0) {
    const runs = stepRuns(id, stored, step)
    for (let b = first; b <= last; b += width) runs.add(b)
    return runs.done()
  }
  const blob = blobOf(stored)
  const steps: number[] = []
  const sizes: number[] = []
  for (let t = first - (first % step); t <= last; t += step) {
    steps.push(t)
    sizes.push((Math.min(last, t + step - width) - Math.max(first, t)) / width + 1)
  }
  return { id, blob, steps, sizes }
}

/** Collects a series' buckets, in order, into runs of one step each. */
function stepRuns(id: number, stored: unknown, step: number) {
  const blob = blobOf(stored)
  const steps: number[] = []
  const sizes: number[] = []
  let current = Number.NaN
  return {
    add(bucket: number) {
      const t = bucket - (bucket % step)
      if (t === current) sizes[sizes.length - 1]!++
      else {
        steps.push((current = t))
        sizes.push(1)
      }
    },
    done: (): SketchRuns => ({ id, blob, steps, sizes }),
  }
}
