/**
 * Prompt scores: `prompt_score{prompt, version}` points, written through the ordinary metrics
 * ingest (API, remote write, the Metrics Record node). `version` is the version number ("3").
 */
import type { Db } from '../../../../db/client.ts'
import { findSeries, newBucket, scalesOf, stepBuckets } from '../../metrics/index.ts'

export const SCORE_METRIC = 'prompt_score'
const STEP = 60_000

export type Score = { avg: number | null; count: number }

/** Mean and count of each version's scores in [from, to), by version number. */
export async function scoresByVersion(db: Db, prompt: string, from: number, to: number): Promise<Map<number, Score>> {
  const found = await findSeries(db, SCORE_METRIC, { prompt })
  const out = new Map<number, Score>()
  if (!found.length) return out
  const buckets = await stepBuckets(
    db,
    found.map((s) => s.id),
    { from, to, step: STEP },
    scalesOf(found),
  )
  for (const s of found) {
    const version = Number(String(s.labels.version ?? '').replace(/^v/, ''))
    if (!Number.isInteger(version) || version < 1) continue
    const total = newBucket()
    for (const b of buckets.get(s.id)?.values() ?? []) {
      total.count += b.count
      total.sum += b.sum
    }
    const prev = out.get(version) ?? { avg: null, count: 0 }
    const count = prev.count + total.count
    const sum = (prev.avg ?? 0) * prev.count + total.sum
    out.set(version, { count, avg: count ? sum / count : null })
  }
  return out
}

/** One version's mean and count in [from, to). */
export async function scoreOf(db: Db, prompt: string, version: number, from: number, to: number): Promise<Score> {
  return (await scoresByVersion(db, prompt, from, to)).get(version) ?? { avg: null, count: 0 }
}
