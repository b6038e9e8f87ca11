import type { Db } from '../../db/client.ts'
import { type Rollup, rollups, series } from '../../db/schema/metrics.ts'
import { readMinutes } from '../../app/modules/metrics/minutes.ts'

/**
 * The 1-minute tier's minutes as the rows a minute `rollups` held before they were packed an hour a row
 * (ADR 0030), in key order (series, bucket): what tests compared before, read through the one reader.
 */
export async function minuteRollups(db: Db, ids?: number[], from = 0, to = Number.MAX_SAFE_INTEGER): Promise<Rollup[]> {
  const all = ids ?? (await db.select({ id: series.id }).from(series)).map((s) => s.id)
  const out: Rollup[] = []
  for (let i = 0; i < all.length; i += 500)
    for (const m of await readMinutes(db, all.slice(i, i + 500), from, to))
      out.push({
        seriesId: m.seriesId,
        resolution: 60,
        bucket: m.bucket,
        count: m.count,
        sum: m.sum,
        min: m.min,
        max: m.max,
        last: m.last === m.max ? null : m.last,
        lastOffset: m.lastTs - m.bucket,
        sketch: m.sketch.slice(),
      })
  return out
}

/** Every rollup row of every tier (minutes as rows), ordered by resolution, then bucket, then series. */
export async function allRollups(db: Db): Promise<Rollup[]> {
  const rows = [...(await minuteRollups(db)), ...(await db.select().from(rollups))]
  return rows.sort((a, b) => a.resolution - b.resolution || a.bucket - b.bucket || a.seriesId - b.seriesId)
}
