import { type Db, readRows } from '../../../db/client.ts'
import { rollupMinutes } from '../../../db/schema/metrics.ts'
import { sql } from 'drizzle-orm'
import {
  decodePack,
  encodePack,
  HOUR,
  hourOf,
  type Minute,
  mergeMinutes,
  packBuckets,
  skipSketches,
} from './minute-pack.ts'

/*
 * The 1-minute tier's reads and writes (ADR 0030): rows of `rollup_minutes`, one per series and hour,
 * decoded here into the minutes every reader asked the row-a-minute table for. Callers never see a pack.
 */

export type SeriesMinute = Minute & { seriesId: number }

const blobOf = (v: unknown) => (v instanceof Uint8Array ? v : new Uint8Array(v as ArrayBuffer))

/** The packs of these series that can hold minutes in [from, to), in key order (series, hour). */
async function packs(db: Db, ids: readonly number[], from: number, to: number) {
  if (!ids.length || to <= from) return []
  const rows = await readRows(
    db,
    `select series_id, hour, data from rollup_minutes
      where series_id in (${ids.map(() => '?').join(', ')}) and hour >= ? and hour < ?`,
    [...ids, hourOf(from), to],
  )
  return rows.map((r) => ({ seriesId: Number(r[0]), hour: Number(r[1]), data: blobOf(r[2]) }))
}

/** The minutes of these series in [from, to), by series then bucket (the order the row table gave). */
export async function readMinutes(db: Db, ids: readonly number[], from: number, to: number) {
  const out: SeriesMinute[] = []
  for (const p of await packs(db, ids, from, to))
    for (const m of decodePack(p.hour, p.data))
      if (m.bucket >= from && m.bucket < to) out.push({ seriesId: p.seriesId, ...m })
  return out
}

/**
 * Each pack's minutes in [from, to) folded into one summary (in bucket order, as the rollup job folds
 * rows), their sketches as the one byte range they take in the pack: what an hour is built from, with
 * no minute's sketch decoded on its own.
 */
export async function packSummaries(db: Db, ids: readonly number[], from: number, to: number) {
  const out: (Omit<Minute, 'bucket' | 'sketch'> & { seriesId: number; hour: number; sketches: Uint8Array })[] = []
  for (const p of await packs(db, ids, from, to)) {
    const all = decodePack(p.hour, p.data)
    let i = 0
    while (i < all.length && all[i]!.bucket < from) i++
    let j = i
    while (j < all.length && all[j]!.bucket < to) j++
    if (i === j) continue
    const head = all[i]!
    const s = { seriesId: p.seriesId, hour: p.hour, ...head, sketches: head.sketch }
    for (let k = i + 1; k < j; k++) {
      const m = all[k]!
      s.count += m.count
      s.sum += m.sum
      s.min = Math.min(s.min, m.min)
      s.max = Math.max(s.max, m.max)
      if (m.lastTs >= s.lastTs) Object.assign(s, { last: m.last, lastTs: m.lastTs })
    }
    const tail = all[j - 1]!.sketch
    s.sketches = p.data.subarray(
      head.sketch.byteOffset - p.data.byteOffset,
      tail.byteOffset - p.data.byteOffset + tail.length,
    )
    out.push(s)
  }
  return out
}

/**
 * The minutes' sketches of each series in [from, to), back to back as one blob, and each one's bucket
 * (what `seriesSketchRuns` answers for the row tiers: read-plan.ts). Only the minute numbers are decoded;
 * the sketches of a pack's range are one byte range of it, found without walking them unless the
 * window cuts the hour (the readers walk the blob once, in order, when they merge it: ADR 0029).
 */
export async function minuteSketches(db: Db, ids: readonly number[], from: number, to: number) {
  const out: { seriesId: number; blob: Uint8Array; buckets: number[] }[] = []
  let current: { seriesId: number; parts: Uint8Array[]; size: number; buckets: number[] } | undefined
  const flush = () => {
    if (!current?.buckets.length) return
    const blob = new Uint8Array(current.size)
    let at = 0
    for (const part of current.parts) {
      blob.set(part, at)
      at += part.length
    }
    out.push({ seriesId: current.seriesId, blob, buckets: current.buckets })
  }
  for (const p of await packs(db, ids, from, to)) {
    if (current?.seriesId !== p.seriesId) {
      flush()
      current = { seriesId: p.seriesId, parts: [], size: 0, buckets: [] }
    }
    const { buckets, sketches, n } = packBuckets(p.hour, p.data)
    let i = 0
    while (i < n && buckets[i]! < from) i++
    let j = i
    while (j < n && buckets[j]! < to) j++
    if (j === i) continue
    // The sketches run to the pack's end: only an hour the window cuts is walked to find its range.
    const start = skipSketches(p.data, sketches, i)
    const part = p.data.subarray(start, j === n ? p.data.length : skipSketches(p.data, start, j - i))
    current.parts.push(part)
    current.size += part.length
    for (let k = i; k < j; k++) current.buckets.push(buckets[k]!)
  }
  flush()
  return out
}

/**
 * Statements storing these minutes (any series and hours, one per bucket): each hour's pack is read,
 * the minutes replace those of the same bucket, and the pack is written whole. The caller runs them in
 * one batch; the rollup job is the one writer (its lease), so nothing writes a pack in between.
 */
export async function minuteWrites(db: Db, minutes: readonly SeriesMinute[]) {
  const byPack = new Map<string, { seriesId: number; hour: number; fresh: Minute[] }>()
  let lo = Infinity
  let hi = -Infinity
  for (const m of minutes) {
    const hour = hourOf(m.bucket)
    const key = `${m.seriesId}:${hour}`
    let p = byPack.get(key)
    if (!p) byPack.set(key, (p = { seriesId: m.seriesId, hour, fresh: [] }))
    p.fresh.push(m)
    lo = Math.min(lo, hour)
    hi = Math.max(hi, hour)
  }
  if (!byPack.size) return []
  const ids = [...new Set(minutes.map((m) => m.seriesId))]
  const stored = new Map<string, Uint8Array>()
  for (let i = 0; i < ids.length; i += 500)
    for (const p of await packs(db, ids.slice(i, i + 500), lo, hi + HOUR))
      if (byPack.has(`${p.seriesId}:${p.hour}`)) stored.set(`${p.seriesId}:${p.hour}`, p.data)
  const rows = [...byPack.entries()].map(([key, p]) => {
    const fresh = p.fresh.sort((a, b) => a.bucket - b.bucket)
    const old = stored.get(key)
    const all = old ? mergeMinutes(decodePack(p.hour, old), fresh) : fresh
    return { seriesId: p.seriesId, hour: p.hour, n: all.length, data: encodePack(p.hour, all) }
  })
  return packWrites(db, rows)
}

type PackRow = typeof rollupMinutes.$inferInsert

// Four parameters a row: well under SQLite's 32,766 a statement.
const PACKS_PER_STATEMENT = 2000

function packWrites(db: Db, rows: PackRow[]) {
  const stmts = []
  for (let i = 0; i < rows.length; i += PACKS_PER_STATEMENT)
    stmts.push(
      db
        .insert(rollupMinutes)
        .values(rows.slice(i, i + PACKS_PER_STATEMENT))
        .onConflictDoUpdate({
          target: [rollupMinutes.seriesId, rollupMinutes.hour],
          set: { n: sql`excluded.n`, data: sql`excluded.data` },
        }),
    )
  return stmts
}

/**
 * Deletes these series' minutes before `cutoff`: whole packs a day of hours per statement, and the pack
 * holding the cutoff rewritten without its earlier minutes. Returns the minutes deleted.
 */
export async function purgeMinutes(db: Db, ids: readonly number[], cutoff: number, pause: () => Promise<void>) {
  if (!ids.length) return 0
  const list = ids.map(() => '?').join(', ')
  const [oldest] = await readRows(db, `select min(hour) from rollup_minutes where series_id in (${list})`, [...ids])
  let deleted = 0
  const firstKept = hourOf(cutoff) // the pack holding the cutoff, or the first after it
  for (let from = oldest?.[0] == null ? firstKept : Number(oldest[0]); from < firstKept; from += 24 * HOUR) {
    const gone = await db.$client.execute({
      sql: `delete from rollup_minutes where series_id in (${list}) and hour < ? returning n`,
      args: [...ids, Math.min(firstKept, from + 24 * HOUR)],
    })
    for (const r of gone.rows) deleted += Number(r.n)
    await pause()
  }
  if (cutoff === firstKept) return deleted
  const straddling = await packs(db, ids, firstKept, firstKept + 1)
  const rows: PackRow[] = []
  for (const p of straddling) {
    const all = decodePack(p.hour, p.data)
    const kept = all.filter((m) => m.bucket >= cutoff)
    if (kept.length === all.length) continue
    deleted += all.length - kept.length
    if (kept.length) rows.push({ seriesId: p.seriesId, hour: p.hour, n: kept.length, data: encodePack(p.hour, kept) })
    else await db.delete(rollupMinutes).where(sql`series_id = ${p.seriesId} and hour = ${p.hour}`)
  }
  for (const s of packWrites(db, rows)) await s
  return deleted
}
