import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import type { Logger } from '../../lib/logger.ts'

/*
 * Raw points live in two tables. A write goes to `points_inbox` (keyed by time first: a request of
 * a thousand series at one time touches a few adjacent pages), and the mover below copies the inbox
 * into `points` (clustered by series, what queries want) in big series-ordered transactions. Every
 * reader of raw points reads both through the fragments here: for the same series and ms the inbox
 * row wins, since it was written after the row in `points` was moved there.
 */

export const MOVE_MAX_ROWS = 500_000

/** A SQL list of ids: `(1, 2, 3)`. */
const idList = (ids: number[]) =>
  sql`(${sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  )})`

/** A `points` row is live unless the inbox holds a later write of the same series and ms. */
const notOverridden = sql`not exists (select 1 from points_inbox i where i.ts = p.ts and i.series_id = p.series_id)`

/**
 * `select series_id, ts, value` of the raw points of one series (a SQL expression, e.g. a
 * correlated `s.id`) or of a list of ids, in [from, to), from both tables. With `ordered`, rows
 * come in (series_id, ts) order (SQLite merges the two arms; `points` needs no sort).
 */
export function rawPointsSql(
  seriesIds: number[] | SQL,
  from: number,
  to: number,
  { ordered = false, after }: { ordered?: boolean; after?: number } = {},
) {
  const match = Array.isArray(seriesIds)
    ? (alias: string) => sql`${sql.raw(alias)}.series_id in ${idList(seriesIds)}`
    : (alias: string) => sql`${sql.raw(alias)}.series_id = ${seriesIds}`
  const lower = (alias: string) =>
    after === undefined ? sql`${sql.raw(alias)}.ts >= ${from}` : sql`${sql.raw(alias)}.ts > ${after}`
  return sql`select p.series_id as series_id, p.ts as ts, p.value as value from points p where ${match('p')} and ${lower('p')} and p.ts < ${to} and ${notOverridden}
    union all select n.series_id, n.ts, n.value from points_inbox n where ${lower('n')} and n.ts < ${to} and ${match('n')}${ordered ? sql` order by 1, 2` : sql``}`
}

export type RawPoint = { seriesId: number; ts: number; value: number }

/** Raw points of these series in [from, to), from both tables (no order). */
export async function readRaw(db: Db, seriesIds: number[], from: number, to: number): Promise<RawPoint[]> {
  if (!seriesIds.length) return []
  const rows = await db.all<{ series_id: number; ts: number; value: number }>(rawPointsSql(seriesIds, from, to))
  return rows.map((r) => ({ seriesId: r.series_id, ts: r.ts, value: r.value }))
}

/**
 * Copies up to about `maxRows` of the oldest inbox rows (by time) into `points`, in series order,
 * and deletes them from the inbox, in one transaction: a crash or a failure leaves both tables as
 * they were. A row already in `points` for the same series and ms takes the inbox's value (the
 * later write). Returns the number of rows moved.
 */
export async function moveInbox(db: Db, { maxRows = MOVE_MAX_ROWS } = {}) {
  // An empty inbox (no metrics coming in) takes no write lock, which would hold up other writers.
  if (!(await db.all(sql`select 1 from points_inbox limit 1`)).length) return 0
  // Every row at or before the maxRows-th time moves (rows of one time are never split).
  const [edge] = await db.all<{ ts: number }>(
    sql`select ts from points_inbox order by ts limit 1 offset ${Math.max(0, maxRows - 1)}`,
  )
  const where = edge ? `where ts <= ?` : `where true`
  const args = edge ? [edge.ts] : []
  const [moved] = await db.$client.batch(
    [
      {
        sql: `insert into points (series_id, ts, value) select series_id, ts, value from points_inbox ${where} order by series_id, ts on conflict (series_id, ts) do update set value = excluded.value`,
        args,
      },
      { sql: `delete from points_inbox ${where}`, args },
    ],
    'write',
  )
  return moved?.rowsAffected ?? 0
}

/**
 * Moves the inbox every `intervalMs`, at once again while a move was full (catching up). Any
 * number of instances may run it: each move is one transaction over what is there.
 */
export function startInboxMover(
  db: Db,
  { intervalMs, maxRows = MOVE_MAX_ROWS, log }: { intervalMs: number; maxRows?: number; log: Logger },
) {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> | undefined
  const tick = () => {
    running = (async () => {
      let moved = 0
      try {
        moved = await moveInbox(db, { maxRows })
      } catch (e) {
        log.warn('moving the points inbox failed; will retry', { error: e instanceof Error ? e.message : String(e) })
      }
      if (!stopped) timer = setTimeout(tick, moved >= maxRows ? 0 : intervalMs)
    })()
  }
  timer = setTimeout(tick, intervalMs)
  return {
    /** Stops the loop after a move in progress (the inbox keeps what is left; readers still see it). */
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
