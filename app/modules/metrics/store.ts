import { inArray, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { points, rollupDirty, series } from '../../../db/schema/metrics.ts'
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

const POINT_ROWS_PER_STATEMENT = 2000 // 3 parameters each, well under SQLite's 32 766

/**
 * Writes samples. Series ids are cached by fingerprint; each call is one atomic batch, so a
 * request's points are stored whole or not at all, and the same series and ms written again
 * keeps one point with the last value.
 */
export function createMetricStore(db: Db) {
  const ids = new Map<string, number>()
  const touched = new Map<number, number>()
  async function seriesIds(samples: Sample[], now: number) {
    const wanted = new Map<string, { name: string; labels: Record<string, string> }>()
    const fps = samples.map((s) => {
      const labels = canonicalLabels(s.labels)
      const fp = fingerprintOf(s.name, labels)
      if (!ids.has(fp)) wanted.set(fp, { name: s.name, labels })
      return fp
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
      if (ids.size > 500_000) ids.clear()
    }
    return fps.map((fp) => ids.get(fp)!)
  }

  async function write(samples: Sample[], now = Date.now()) {
    if (!samples.length) return { written: 0, series: 0 }
    const sids = await seriesIds(samples, now)
    const late = now - SETTLE_MS
    // Last value wins within the request too.
    const rows = new Map<string, { seriesId: number; ts: number; value: number }>()
    const dirty = new Map<string, { resolution: number; seriesId: number; bucket: number }>()
    samples.forEach((s, i) => {
      const seriesId = sids[i]!
      rows.set(`${seriesId}:${s.ts}`, { seriesId, ts: s.ts, value: s.value })
      if (s.ts < late) {
        const bucket = s.ts - (s.ts % MINUTE)
        dirty.set(`${seriesId}:${bucket}`, { resolution: 60, seriesId, bucket })
      }
    })
    const all = [...rows.values()]
    const statements = []
    for (let i = 0; i < all.length; i += POINT_ROWS_PER_STATEMENT) {
      statements.push(
        db
          .insert(points)
          .values(all.slice(i, i + POINT_ROWS_PER_STATEMENT))
          .onConflictDoUpdate({ target: [points.seriesId, points.ts], set: { value: sql`excluded.value` } }),
      )
    }
    const marks = [...dirty.values()]
    for (let i = 0; i < marks.length; i += 5000) statements.push(db.insert(rollupDirty).values(marks.slice(i, i + 5000)).onConflictDoNothing())
    const stale = [...new Set(sids)].filter((id) => now - (touched.get(id) ?? 0) > MINUTE)
    if (stale.length) {
      for (const id of stale) touched.set(id, now)
      statements.push(db.update(series).set({ lastSeenAt: now }).where(inArray(series.id, stale)))
    }
    await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]])
    if (touched.size > 500_000) touched.clear()
    return { written: all.length, series: new Set(sids).size }
  }

  return { write, seriesIds }
}
export type MetricStore = ReturnType<typeof createMetricStore>
