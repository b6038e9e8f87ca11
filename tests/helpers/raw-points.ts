/**
 * Every raw point in the database (chunks and inbox merged, as readers see them), with its
 * series: what tests once read from the row-per-point `points` table. Ordered by ts, then series id.
 */
import { series } from '../../db/schema/metrics.ts'
import type { Db } from '../../db/client.ts'
import { readRaw } from '../../app/modules/metrics/inbox.ts'

export type StoredPoint = { seriesId: number; ts: number; value: number; name: string; labels: Record<string, string> }

export async function storedPoints(db: Db): Promise<StoredPoint[]> {
  const all = await db.select().from(series)
  const byId = new Map(all.map((s) => [s.id, s]))
  const raw = await readRaw(
    db,
    all.map((s) => s.id),
    -Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  )
  return raw
    .map((p) => ({ ...p, name: byId.get(p.seriesId)!.name, labels: byId.get(p.seriesId)!.labels }))
    .sort((a, b) => a.ts - b.ts || a.seriesId - b.seriesId)
}
