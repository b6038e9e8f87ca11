import { inArray } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { series } from '../../../db/schema/metrics.ts'
import { sha256 } from '../../lib/crypto.ts'

export type Sample = { name: string; labels: Record<string, string>; value: number; ts: number }

export const MINUTE = 60_000
// Minutes are rolled up this long after they end. A point older than this may land behind the 1m
// watermark, so it marks its minute for a rebuild.
export const SETTLE_MS = MINUTE
export const RESOLUTIONS = [60, 3600, 86_400] as const
export type Resolution = (typeof RESOLUTIONS)[number]

/** Labels sorted by name, so the same set always has the same text and fingerprint. */
export function canonicalLabels(labels: Record<string, string>) {
  return Object.fromEntries(Object.entries(labels).filter(([, value]) => value !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

export const fingerprintOf = (name: string, labels: Record<string, string>) => sha256(`${name}\u0000${JSON.stringify(labels)}`).slice(0, 32)

/** Extra samples to write with a batch, computed from it; they are stored in the same atomic batch. */
export type Derive = (samples: Sample[]) => Sample[] | Promise<Sample[]>

const POINT_ROWS_PER_STATEMENT = 2000 // 3 parameters each, well under SQLite's 32 766
const MARK_ROWS_PER_STATEMENT = 3000

// The hot path writes through the client with prepared text, one string per row count: building
// thousands of rows through the query builder costs more than SQLite's own insert.
const upsertPointsSql = (n: number) =>
  `insert into points (series_id, ts, value) values ${'(?,?,?),'.repeat(n).slice(0, -1)} on conflict (series_id, ts) do update set value = excluded.value`
const markDirtySql = (n: number) => `insert into rollup_dirty (resolution, series_id, bucket) values ${'(60,?,?),'.repeat(n).slice(0, -1)} on conflict do nothing`
const touchSeriesSql = (n: number) => `update series set last_seen_at = ? where id in (${'?,'.repeat(n).slice(0, -1)})`

function memo(make: (n: number) => string) {
  const cache = new Map<number, string>()
  return (n: number) => {
    let text = cache.get(n)
    if (!text) cache.set(n, (text = make(n)))
    return text
  }
}

/**
 * Writes samples. Series ids are cached (by the label text as sent, then by fingerprint); each
 * call is one atomic batch, so a request's points are stored whole or not at all, and the same
 * series and ms written again keeps one point with the last value.
 */
export function createMetricStore(db: Db, options: { derive?: Derive } = {}) {
  const ids = new Map<string, number>() // fingerprint → id
  const byText = new Map<string, number>() // name + labels as sent → id: skips sorting and hashing
  const touched = new Map<number, number>()
  const sqlFor = { points: memo(upsertPointsSql), marks: memo(markDirtySql), touch: memo(touchSeriesSql) }

  async function seriesIds(samples: Sample[], now: number) {
    const out = new Array<number>(samples.length)
    const pending: { index: number; text: string; fp: string }[] = []
    const wanted = new Map<string, { name: string; labels: Record<string, string> }>()
    samples.forEach((s, index) => {
      const text = `${s.name}\u0000${JSON.stringify(s.labels)}`
      const known = byText.get(text)
      if (known !== undefined) return void (out[index] = known)
      const labels = canonicalLabels(s.labels)
      const fp = fingerprintOf(s.name, labels)
      pending.push({ index, text, fp })
      if (!ids.has(fp)) wanted.set(fp, { name: s.name, labels })
    })
    if (wanted.size) {
      const missing = [...wanted.keys()]
      for (let i = 0; i < missing.length; i += 500) {
        const chunk = missing.slice(i, i + 500)
        await db
          .insert(series)
          .values(chunk.map((fp) => ({ fingerprint: fp, ...wanted.get(fp)!, createdAt: now, lastSeenAt: now })))
          .onConflictDoNothing()
        const rows = await db.select({ id: series.id, fp: series.fingerprint }).from(series).where(inArray(series.fingerprint, chunk))
        for (const r of rows) ids.set(r.fp, r.id)
      }
    }
    if (ids.size > 500_000 || byText.size > 1_000_000) {
      ids.clear()
      byText.clear()
    }
    for (const p of pending) {
      const id = ids.get(p.fp)!
      out[p.index] = id
      byText.set(p.text, id)
    }
    return out
  }

  async function write(samples: Sample[], now = Date.now()) {
    if (!samples.length) return { written: 0, series: 0 }
    // Points computed from the request's own (e.g. llm_cost_usd from llm_tokens_total) join the same atomic batch.
    const derived = options.derive ? await options.derive(samples) : []
    if (derived.length) samples = [...samples, ...derived]
    const sids = await seriesIds(samples, now)
    const late = now - SETTLE_MS
    // Last value wins within the request too.
    const rows = new Map<string, number>() // "series:ts" → index of the last sample
    const dirty = new Map<string, [number, number]>()
    samples.forEach((s, i) => {
      const seriesId = sids[i]!
      rows.set(`${seriesId}:${s.ts}`, i)
      if (s.ts < late) {
        const bucket = s.ts - (s.ts % MINUTE)
        dirty.set(`${seriesId}:${bucket}`, [seriesId, bucket])
      }
    })
    const statements: { sql: string; args: number[] }[] = []
    const all = [...rows.values()]
    for (let i = 0; i < all.length; i += POINT_ROWS_PER_STATEMENT) {
      const chunk = all.slice(i, i + POINT_ROWS_PER_STATEMENT)
      const args: number[] = []
      for (const index of chunk) args.push(sids[index]!, samples[index]!.ts, samples[index]!.value)
      statements.push({ sql: sqlFor.points(chunk.length), args })
    }
    const marks = [...dirty.values()]
    for (let i = 0; i < marks.length; i += MARK_ROWS_PER_STATEMENT) {
      const chunk = marks.slice(i, i + MARK_ROWS_PER_STATEMENT)
      statements.push({ sql: sqlFor.marks(chunk.length), args: chunk.flat() })
    }
    const distinct = [...new Set(sids)]
    const stale = distinct.filter((id) => now - (touched.get(id) ?? 0) > MINUTE)
    for (let i = 0; i < stale.length; i += 5000) {
      const chunk = stale.slice(i, i + 5000)
      statements.push({ sql: sqlFor.touch(chunk.length), args: [now, ...chunk] })
    }
    // One statement is atomic by itself; a batch would add BEGIN and COMMIT round trips.
    if (statements.length === 1) await db.$client.execute(statements[0]!)
    else await db.$client.batch(statements, 'write')
    // Only after the commit: a failed batch must not hide these series from the next touch.
    for (const id of stale) touched.set(id, now)
    if (touched.size > 500_000) touched.clear()
    return { written: all.length, series: distinct.length }
  }

  return { write, seriesIds }
}
export type MetricStore = ReturnType<typeof createMetricStore>
