import { and, eq, inArray, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { pointChunks, rollupMinutes, rollups, series } from '../../../db/schema/metrics.ts'
import { cutChunks, moveInbox, seriesInInbox } from './inbox.ts'
import { purgeMinutes } from './minutes.ts'
import { days, yieldToEventLoop as pause } from '../../lib/time.ts'
import type { Resolution } from './store.ts'

export type RetentionDays = { raw: number; 60: number; 3600: number; 86_400: number }

const SERIES_PER_DELETE = 50

/**
 * Deletes raw points and rollups past their retention, a few series or one day of buckets per
 * statement so that each write transaction stays short and ingest is never held up; then hands
 * freed pages back to the file system (incremental vacuum) so the file does not grow without bound.
 */
export async function purgeExpired(db: Db, keep: RetentionDays, now: number, { vacuumPages = 2000 } = {}) {
  const counts = { points: 0, rollups: 0, series: 0, vacuumed: 0 }
  const rawCutoff = now - days(keep.raw)
  // The inbox first, so points past the cutoff in it are cut from their chunks below.
  while ((await moveInbox(db)) > 0) await pause()
  const ids = (await db.select({ id: series.id }).from(series)).map((s) => s.id)
  for (let i = 0; i < ids.length; i += SERIES_PER_DELETE) {
    counts.points += await cutChunks(db, ids.slice(i, i + SERIES_PER_DELETE), rawCutoff)
    await pause()
  }
  // Batches written since, wholly past the cutoff (one straddling it is cut once moved into chunks).
  const gone = await db.$client.execute({
    sql: 'delete from point_batches where max_ts < ? returning n',
    args: [rawCutoff],
  })
  for (const r of gone.rows) counts.points += Number(r.n)
  // Rollups are keyed by series and have no index by time (ADR 0022): a few series at a time, from
  // their oldest bucket (a seek per series), a day of buckets per statement.
  // Minutes are packed an hour a row (ADR 0030): whole packs, and the one holding the cutoff rewritten.
  for (let i = 0; i < ids.length; i += SERIES_PER_DELETE)
    counts.rollups += await purgeMinutes(db, ids.slice(i, i + SERIES_PER_DELETE), now - days(keep[60]), pause)
  for (const res of [3600, 86_400] as Resolution[]) {
    const cutoff = now - days(keep[res])
    for (let i = 0; i < ids.length; i += SERIES_PER_DELETE) {
      const slice = ids.slice(i, i + SERIES_PER_DELETE)
      const [oldest] = await db.all<{ b: number | null }>(
        sql`select min((select min(bucket) from rollups r where r.series_id = s.id and r.resolution = ${res})) as b
          from series s where s.id in (${sql.join(
            slice.map((id) => sql`${id}`),
            sql`, `,
          )})`,
      )
      for (let from = oldest?.b ?? cutoff; from < cutoff; from += days(1)) {
        const gone = await db
          .delete(rollups)
          .where(
            and(
              inArray(rollups.seriesId, slice),
              eq(rollups.resolution, res),
              lt(rollups.bucket, Math.min(cutoff, from + days(1))),
            ),
          )
          .returning({ b: rollups.bucket })
        counts.rollups += gone.length
        await pause()
      }
    }
  }
  // A series with nothing left and not seen for the longest retention is forgotten (not while the
  // inbox still holds a point of it: the batches are read here, they are few).
  const longest = Math.max(keep.raw, keep[60], keep[3600], keep[86_400])
  const inInbox = await seriesInInbox(db)
  const candidates = await db
    .select({ id: series.id })
    .from(series)
    .where(
      and(
        lt(series.lastSeenAt, now - days(longest)),
        sql`not exists (select 1 from ${pointChunks} where ${pointChunks.seriesId} = ${series.id})`,
        sql`not exists (select 1 from ${rollups} where ${rollups.seriesId} = ${series.id})`,
        sql`not exists (select 1 from ${rollupMinutes} where ${rollupMinutes.seriesId} = ${series.id})`,
      ),
    )
  const forget = candidates.map((c) => c.id).filter((id) => !inInbox.has(id))
  const forgotten: { id: number }[] = []
  for (let i = 0; i < forget.length; i += 500)
    forgotten.push(
      ...(await db
        .delete(series)
        .where(
          and(
            inArray(series.id, forget.slice(i, i + 500)),
            sql`not exists (select 1 from ${pointChunks} where ${pointChunks.seriesId} = ${series.id})`,
          ),
        )
        .returning({ id: series.id })),
    )
  counts.series = forgotten.length
  const [mode] = await db.all<{ auto_vacuum: number }>(sql`pragma auto_vacuum`)
  if (mode?.auto_vacuum === 2) {
    const [before] = await db.all<{ freelist_count: number }>(sql`pragma freelist_count`)
    // exec steps the pragma to its end; a prepared statement would stay open mid-vacuum.
    await db.$client.executeMultiple(`pragma incremental_vacuum(${Math.max(1, Math.floor(vacuumPages))})`)
    const [after] = await db.all<{ freelist_count: number }>(sql`pragma freelist_count`)
    counts.vacuumed = (before?.freelist_count ?? 0) - (after?.freelist_count ?? 0)
  }
  return counts
}
