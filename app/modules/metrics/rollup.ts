import { and, eq, gte, inArray, lt, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { type Rollup, rollupDirty, rollups, rollupWatermarks, series } from '../../../db/schema/metrics.ts'
import { yieldToEventLoop } from '../../lib/time.ts'
import { type InboxBatches, readRuns, seriesWithPoints } from './inbox.ts'
import { minuteWrites, packSummaries, type SeriesMinute } from './minutes.ts'
import { addValue, decodeSketch, emptySketch, encodeSketch, mergeInto, type Sketch, sketchScratch } from './sketch.ts'
import { MINUTE, RESOLUTIONS, SETTLE_MS, type Resolution } from './store.ts'

type Agg = { count: number; sum: number; min: number; max: number; last: number; lastTs: number; sketch: Sketch }
type Built = typeof rollups.$inferInsert

/** A bucket's summary without its sketch. */
export type Summary = Omit<Agg, 'sketch'>

/** What a stored rollup row says (db/schema/metrics.ts): `last` and `lastTs` as they were, not as stored. */
export function decodeRollup(
  r: Pick<Rollup, 'bucket' | 'count' | 'sum' | 'min' | 'max' | 'last' | 'lastOffset'>,
): Summary {
  return { count: r.count, sum: r.sum, min: r.min, max: r.max, last: r.last ?? r.max, lastTs: r.bucket + r.lastOffset }
}

/** The row to store for a bucket: the inverse of `decodeRollup` (and `decodeSketch` of its sketch). */
export function encodeRollup(seriesId: number, resolution: Resolution, bucket: number, a: Agg): Built {
  return rollupRow(seriesId, resolution, bucket, a, encodeSketch(a.sketch))
}

/** `encodeRollup` with the sketch already in its stored form. */
function rollupRow(seriesId: number, resolution: Resolution, bucket: number, a: Summary, sketch: Uint8Array): Built {
  return {
    seriesId,
    resolution,
    bucket,
    count: a.count,
    sum: a.sum,
    min: a.min,
    max: a.max,
    last: a.last === a.max ? null : a.last,
    lastOffset: a.lastTs - bucket,
    sketch,
  }
}

// A point may be written up to this far ahead of its ingest time; bounds which series can hold a bucket.
export const FUTURE_SKEW_MS = 10 * MINUTE
// How much source time one atomic step covers while catching up. Minutes go three hours at a time, cut
// on whole hours: each hour's pack (ADR 0030) is then written once, not read back and merged on the next
// step, and a raw chunk (up to 240 points, an hour at 15 s) is decoded by one or two steps, not three.
const STEP: Record<Resolution, number> = { 60: 3 * 3_600_000, 3600: 24 * 3_600_000, 86_400: 30 * 86_400_000 }
const PARENT: Partial<Record<Resolution, Resolution>> = { 60: 3600, 3600: 86_400 }
const SOURCE: Partial<Record<Resolution, Resolution>> = { 3600: 60, 86_400: 3600 }

const floorTo = (ms: number, res: Resolution) => ms - (ms % (res * 1000))

function addRow(
  aggs: Map<string, Agg & { seriesId: number; bucket: number }>,
  seriesId: number,
  bucket: number,
  row: Omit<Agg, 'sketch'> & { sketch: Sketch },
) {
  const key = `${seriesId}:${bucket}`
  const a = aggs.get(key)
  // The row's own fields first: a minute read from its pack carries its series and bucket (the minute's).
  if (!a) return void aggs.set(key, { ...row, seriesId, bucket })
  a.count += row.count
  a.sum += row.sum
  a.min = Math.min(a.min, row.min)
  a.max = Math.max(a.max, row.max)
  if (row.lastTs >= a.lastTs) Object.assign(a, { last: row.last, lastTs: row.lastTs })
  mergeInto(a.sketch, row.sketch)
}

/**
 * The 1-minute buckets of these series over [from, to), from raw points: each series' points come as one
 * time-ordered run (readRuns), so a minute is the stretch of the run inside it and needs no lookup by key.
 */
async function buildMinutes(db: Db, seriesIds: number[], from: number, to: number, batches?: InboxBatches) {
  const out: SeriesMinute[] = []
  for (let i = 0; i < seriesIds.length; i += 500) {
    if (i) await yieldToEventLoop()
    for (const run of await readRuns(db, seriesIds.slice(i, i + 500), from, to, batches)) {
      const { ts, values } = run
      let k = 0
      while (k < ts.length) {
        const bucket = floorTo(ts[k]!, 60)
        const sketch = emptySketch()
        const first = values[k]!
        let count = 0
        let sum = 0
        let min = first
        let max = first
        for (; k < ts.length && ts[k]! < bucket + MINUTE; k++) {
          const v = values[k]!
          count++
          sum = count === 1 ? v : sum + v
          if (v < min) min = v
          if (v > max) max = v
          addValue(sketch, v)
        }
        const last = values[k - 1]!
        out.push({
          seriesId: run.seriesId,
          bucket,
          count,
          sum,
          min,
          max,
          last,
          lastTs: ts[k - 1]!,
          sketch: encodeSketch(sketch),
        })
      }
    }
  }
  return out
}

/** Reads the source of `res` (1 h or 1 d) for these series over [from, to) and aggregates it into buckets. */
async function aggregate(db: Db, res: Resolution, seriesIds: number[], from: number, to: number) {
  const aggs = new Map<string, Agg & { seriesId: number; bucket: number }>()
  const hours: Built[] = []
  const scratch = sketchScratch()
  const source = SOURCE[res]
  for (let i = 0; i < seriesIds.length; i += 500) {
    if (i) await yieldToEventLoop()
    const ids = seriesIds.slice(i, i + 500)
    if (source === 60) {
      // An hour is its series' one pack (ADR 0030): the minutes folded, their sketches merged from the
      // stored bytes into the scratch and written from it, no sketch object on the way.
      for (const p of await packSummaries(db, ids, from, to)) {
        scratch.reset()
        scratch.addEncoded(p.sketches)
        hours.push(rollupRow(p.seriesId, res, p.hour, p, scratch.encode()))
      }
    } else {
      const rows = await db
        .select()
        .from(rollups)
        .where(
          and(
            eq(rollups.resolution, source ?? 3600),
            inArray(rollups.seriesId, ids),
            gte(rollups.bucket, from),
            lt(rollups.bucket, to),
          ),
        )
      for (const r of rows)
        addRow(aggs, r.seriesId, floorTo(r.bucket, res), { ...decodeRollup(r), sketch: decodeSketch(r.sketch) })
    }
  }
  return [...hours, ...[...aggs.values()].map((a) => encodeRollup(a.seriesId, res, a.bucket, a))]
}

/** The buckets of `res` for these series over [from, to), as `upsertRollups` takes them. */
const build = (db: Db, res: Resolution, ids: number[], from: number, to: number, batches?: InboxBatches) =>
  res === 60 ? buildMinutes(db, ids, from, to, batches) : aggregate(db, res, ids, from, to)

// Series aggregated and written together while catching up: bounds the buckets (and sketches) held at once.
const SERIES_PER_WRITE = 100

// 10 parameters a row: 3000 rows stay under SQLite's 32 766 variables per statement.
const ROLLUP_ROWS_PER_STATEMENT = 3000

/**
 * Upserts of `rows` (one resolution), several statements when there are many; the caller runs them in
 * one batch. Minutes go into their hour's pack (ADR 0030), which is read first.
 */
async function upsertRollups(db: Db, res: Resolution, built: Built[] | SeriesMinute[]) {
  if (res === 60) return minuteWrites(db, built as SeriesMinute[])
  const rows = built as Built[]
  const stmts: BatchItem<'sqlite'>[] = []
  for (let i = 0; i < rows.length; i += ROLLUP_ROWS_PER_STATEMENT) {
    stmts.push(
      db
        .insert(rollups)
        .values(rows.slice(i, i + ROLLUP_ROWS_PER_STATEMENT))
        .onConflictDoUpdate({
          target: [rollups.seriesId, rollups.resolution, rollups.bucket],
          set: {
            count: sql`excluded.count`,
            sum: sql`excluded.sum`,
            min: sql`excluded.min`,
            max: sql`excluded.max`,
            last: sql`excluded.last`,
            lastOffset: sql`excluded.last_offset`,
            sketch: sql`excluded.sketch`,
          },
        }),
    )
  }
  return stmts
}

type Mark = typeof rollupDirty.$inferSelect
/** Deletes exactly these marks (a mark written meanwhile survives), 300 to a statement. */
function clear(db: Db, marks: Mark[]) {
  const stmts = []
  for (let i = 0; i < marks.length; i += 300) {
    const keys = sql.join(
      marks.slice(i, i + 300).map((d) => sql`(${d.resolution}, ${d.bucket}, ${d.seriesId})`),
      sql`, `,
    )
    stmts.push(
      db
        .delete(rollupDirty)
        .where(sql`(${rollupDirty.resolution}, ${rollupDirty.bucket}, ${rollupDirty.seriesId}) in (values ${keys})`),
    )
  }
  return stmts
}

/**
 * Dirty marks as few source reads: each series' marks joined into runs of adjacent buckets, and the
 * series that share a run read together. A backfill marks every series over the same minutes (one read
 * for them all) or one series over many minutes (one read for its run), not a read per mark.
 */
export function dirtyRanges(marks: Pick<Mark, 'seriesId' | 'bucket'>[], res: Resolution) {
  const width = res * 1000
  const bySeries = new Map<number, number[]>()
  for (const m of marks) {
    const list = bySeries.get(m.seriesId)
    if (list) list.push(m.bucket)
    else bySeries.set(m.seriesId, [m.bucket])
  }
  const ranges = new Map<string, { from: number; to: number; seriesIds: number[] }>()
  const add = (seriesId: number, from: number, to: number) => {
    const key = `${from}:${to}`
    const range = ranges.get(key)
    if (range) range.seriesIds.push(seriesId)
    else ranges.set(key, { from, to, seriesIds: [seriesId] })
  }
  for (const [seriesId, buckets] of bySeries) {
    buckets.sort((a, b) => a - b)
    let from = buckets[0]!
    let to = from + width
    for (const bucket of buckets.slice(1)) {
      if (bucket > to) {
        add(seriesId, from, to)
        from = bucket
      }
      to = Math.max(to, bucket + width)
    }
    add(seriesId, from, to)
  }
  return [...ranges.values()]
}

function nonEmpty<T>(list: T[]): [T, ...T[]] {
  if (!list.length) throw new Error('empty batch')
  return list as [T, ...T[]]
}

async function watermarks(db: Db) {
  const rows = await db.select().from(rollupWatermarks)
  return new Map(rows.map((r) => [r.resolution as Resolution, r.watermark]))
}

/** Where `res` should start when it has never run: the first source data it has. */
async function firstSourceTime(db: Db, res: Resolution) {
  const source = SOURCE[res]
  // Chunks and rollups are keyed by series first (rollups have no index by time: ADR 0022), so the
  // oldest is found by one seek per series; the inbox is small.
  const [row] =
    source === 60
      ? await db.all<{ t: number | null }>(
          sql`select min((select min(hour) from rollup_minutes r where r.series_id = s.id)) as t from series s`,
        )
      : source
        ? await db.all<{ t: number | null }>(
            sql`select min((select min(bucket) from rollups r where r.series_id = s.id and r.resolution = ${source})) as t from series s`,
          )
        : await db.all<{ t: number | null }>(
            sql`select min(t) as t from (select min((select min(start_ts) from point_chunks c where c.series_id = s.id)) as t from series s union all select min(min_ts) from point_batches)`,
          )
  return row?.t == null ? null : floorTo(row.t, res)
}

/**
 * Series that may have rows of the source tier in [from, to): those written to since a little before
 * it (`last_seen_at`, touched at most once a minute by each store). The minute and hour tiers have no
 * index by time (ADR 0022, 0030), and these steps come once an hour or a day.
 */
async function seriesWithRows(db: Db, from: number) {
  const rows = await db
    .select({ id: series.id })
    .from(series)
    .where(gte(series.lastSeenAt, from - FUTURE_SKEW_MS - 2 * MINUTE))
  return new Set(rows.map((r) => r.id))
}

/**
 * One run of the rollup job: for 1m, 1h and 1d in turn, rebuild dirty buckets behind the
 * watermark, then build complete buckets from the watermark on. Each step writes its buckets,
 * clears what it rebuilt and moves the watermark in one batch, so a crash leaves no partial bucket
 * and the next run resumes where the last step ended.
 */
export async function runRollups(db: Db, now: number, { maxSteps = 200 } = {}) {
  const counts = { buckets: 0, rebuilt: 0, steps: 0 }
  for (const res of RESOLUTIONS) {
    let marks = await watermarks(db)
    // 1. Dirty buckets behind the watermark.
    for (;;) {
      const wm = marks.get(res) ?? 0
      const dirty = await db
        .select()
        .from(rollupDirty)
        .where(and(eq(rollupDirty.resolution, res), lt(rollupDirty.bucket, wm)))
        .limit(500)
      if (!dirty.length) break
      const built: (Built | SeriesMinute)[] = []
      for (const r of dirtyRanges(dirty, res)) built.push(...(await build(db, res, r.seriesIds, r.from, r.to)))
      const parent = PARENT[res]
      const parentWm = parent ? (marks.get(parent) ?? 0) : 0
      const parentMarks = parent
        ? dirty
            .filter((d) => d.bucket < parentWm)
            .map((d) => ({ resolution: parent, seriesId: d.seriesId, bucket: floorTo(d.bucket, parent) }))
        : []
      await db.batch(
        nonEmpty([
          ...(await upsertRollups(db, res, built as Built[] | SeriesMinute[])),
          ...(parentMarks.length ? [db.insert(rollupDirty).values(parentMarks).onConflictDoNothing()] : []),
          ...clear(db, dirty),
        ]),
      )
      counts.rebuilt += dirty.length
      await yieldToEventLoop()
    }
    // 2. Complete buckets from the watermark on.
    const source = SOURCE[res]
    const end = source ? floorTo(marks.get(source) ?? 0, res) : floorTo(now - SETTLE_MS, res)
    let wm = marks.get(res) ?? (await firstSourceTime(db, res))
    if (wm == null) continue
    while (wm < end && counts.steps < maxSteps) {
      let stepEnd = Math.min(end, wm + STEP[res])
      if (stepEnd < end && floorTo(stepEnd, 3600) > wm) stepEnd = floorTo(stepEnd, 3600)
      // Marks for this range are read before the data: one written after this read survives for the next run.
      const covered = await db
        .select()
        .from(rollupDirty)
        .where(and(eq(rollupDirty.resolution, res), gte(rollupDirty.bucket, wm), lt(rollupDirty.bucket, stepEnd)))
      // Only series with data in the step are read: raw points found by the inbox and the chunks' end_ts
      // index (1 m), rows by the source tier's key (1 h, 1 d); late points covered here carry marks.
      const found = source
        ? { ids: await seriesWithRows(db, wm), batches: undefined }
        : await seriesWithPoints(db, wm, stepEnd)
      for (const m of covered) found.ids.add(m.seriesId)
      const active = [...found.ids].sort((a, b) => a - b)
      // Written a slice of series at a time, so a step over a large fleet holds little in memory; readers
      // use rollups only behind the watermark, which moves last, and a crash before it redoes the step.
      for (let i = 0; i < active.length; i += SERIES_PER_WRITE) {
        const ids = active.slice(i, i + SERIES_PER_WRITE)
        const built = await build(db, res, ids, wm, stepEnd, found.batches)
        if (built.length) await db.batch(nonEmpty(await upsertRollups(db, res, built)))
        counts.buckets += built.length
        await yieldToEventLoop()
      }
      await db.batch([
        db
          .insert(rollupWatermarks)
          .values({ resolution: res, watermark: stepEnd })
          .onConflictDoUpdate({ target: rollupWatermarks.resolution, set: { watermark: stepEnd } }),
        ...clear(db, covered),
      ])
      counts.steps++
      wm = stepEnd
    }
    marks = await watermarks(db)
  }
  return counts
}
