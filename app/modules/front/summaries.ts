/**
 * The front page's stored summaries (docs/front-page.md#performance, ADR 0028): the tiles with a
 * `summary` (fleet, agents and models) have their figures computed per range by the `front-summaries`
 * job and kept in `front_summaries`, one row per tile and range; the page reads those rows instead
 * of aggregating thousands of series per request. A new range's figures replace the row whole.
 */
import { and, eq, inArray } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { frontSummaries } from '../../../db/schema/front.ts'
import type { FrontRangeName, FrontTile, StoredSummary } from '../../lib/tiles.tsx'
import { yieldToEventLoop } from '../../lib/time.ts'
import { rangeOf } from './range.ts'

const MINUTE = 60_000

/**
 * How often each range is computed again. The job ticks every minute; 1 h moves by a sixtieth of
 * itself a minute, so it is refreshed every tick, while 24 h and 7 d change little in a few minutes
 * and cost more to compute (more hourly rollups per series, and the previous period as long).
 */
export const SUMMARY_EVERY: Record<FrontRangeName, number> = { '1h': MINUTE, '24h': 5 * MINUTE, '7d': 15 * MINUTE }
/** A summary this much older than its period says so on the page: the job has stopped or fails. */
const STALE_AFTER = 3
/** A tick starts a little after the minute: a row computed at the previous tick of its period is due. */
const SLACK = 10_000

const summarised = (tiles: FrontTile[]) => tiles.filter((t) => t.summary)

/**
 * Computes the summaries that are due (missing, of another version, or older than their range's
 * period) and stores them: ranges in the page's order of use (24 h is the default), each tile in
 * turn, yielding to the event loop between every statement so requests run in between.
 */
export async function refreshSummaries(db: Db, tiles: FrontTile[], now: number) {
  const withSummary = summarised(tiles)
  const rows = withSummary.length
    ? await db
        .select({
          tile: frontSummaries.tile,
          range: frontSummaries.range,
          version: frontSummaries.version,
          asOf: frontSummaries.asOf,
        })
        .from(frontSummaries)
    : []
  const have = new Map(rows.map((r) => [`${r.tile}\u0000${r.range}`, r]))
  const counts = { computed: 0, fresh: 0, computeMs: 0 }
  const failed: string[] = []
  for (const name of ['24h', '1h', '7d'] as const satisfies FrontRangeName[]) {
    for (const tile of withSummary) {
      const row = have.get(`${tile.id}\u0000${name}`)
      const due = !row || row.version !== tile.summary!.version || now - row.asOf >= SUMMARY_EVERY[name] - SLACK
      if (!due) {
        counts.fresh++
        continue
      }
      await yieldToEventLoop()
      const t0 = performance.now()
      // One tile's failure does not keep the others' figures old: the tick fails at the end, naming it.
      const data = await tile.summary!.compute(rangeOf(name, now), yieldToEventLoop).catch((error: unknown) => {
        failed.push(`${tile.id} ${name}: ${error instanceof Error ? error.message : String(error)}`)
        return undefined
      })
      if (data === undefined) continue
      const tookMs = Math.round(performance.now() - t0)
      const value = { tile: tile.id, range: name, version: tile.summary!.version, asOf: now, tookMs, data }
      await db
        .insert(frontSummaries)
        .values(value)
        .onConflictDoUpdate({ target: [frontSummaries.tile, frontSummaries.range], set: value })
      counts.computed++
      counts.computeMs += tookMs
    }
  }
  if (failed.length) throw new Error(`front summaries not computed: ${failed.join('; ')}`)
  return counts
}

/** The stored summaries of these tiles for one range, in one statement; rows of another version are left out. */
export async function readSummaries(db: Db, tiles: FrontTile[], name: FrontRangeName, now: number) {
  const withSummary = summarised(tiles)
  const out = new Map<string, StoredSummary>()
  if (!withSummary.length) return out
  const rows = await db
    .select()
    .from(frontSummaries)
    .where(
      and(
        eq(frontSummaries.range, name),
        inArray(
          frontSummaries.tile,
          withSummary.map((t) => t.id),
        ),
      ),
    )
  const version = new Map(withSummary.map((t) => [t.id, t.summary!.version]))
  for (const r of rows)
    if (version.get(r.tile) === r.version)
      out.set(r.tile, { data: r.data, asOf: r.asOf, stale: now - r.asOf > STALE_AFTER * SUMMARY_EVERY[name] })
  return out
}
