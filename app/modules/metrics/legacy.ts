import { and, eq, sql } from 'drizzle-orm'
import { type Db, readRows, writeNow } from '../../../db/client.ts'
import { rollups } from '../../../db/schema/metrics.ts'
import type { Logger } from '../../lib/logger.ts'
import { chunkRows, type ChunkRow } from './chunks.ts'
import { replaceChunks } from './inbox.ts'
import { minuteWrites, type SeriesMinute } from './minutes.ts'
import { decodeSketchText, encodeSketch } from './sketch.ts'

const PAGE_ROWS = 200_000

/**
 * Encodes the raw points of the row-per-point layout (migration 0026 left them in `points_legacy`)
 * into chunks, a page of rows in (series, ts) order at a time, each page's chunks written and its
 * rows deleted in one transaction: a crash between pages resumes where it stopped, and a page
 * written twice (its chunks have the same keys) changes nothing. Their chunks take seq 0: any
 * write made since, through the inbox, wins over them. Drops the table when it is empty. Run at
 * start-up before the server answers, so readers never need a third table.
 */
export async function convertLegacyPoints(
  db: Db,
  { log, pageRows = PAGE_ROWS }: { log?: Logger; pageRows?: number } = {},
) {
  const exists = await db.$client.execute("select 1 from sqlite_master where type = 'table' and name = 'points_legacy'")
  if (!exists.rows.length) return 0
  let converted = 0
  for (;;) {
    const rows = (
      await db.$client.execute({
        sql: 'select series_id, ts, value from points_legacy order by series_id, ts limit ?',
        args: [pageRows],
      })
    ).rows
    if (!rows.length) break
    const fresh: ChunkRow[] = []
    let i = 0
    while (i < rows.length) {
      const id = Number(rows[i]!.series_id)
      const run = { ts: [] as number[], values: [] as number[] }
      for (; i < rows.length && Number(rows[i]!.series_id) === id; i++) {
        run.ts.push(Number(rows[i]!.ts))
        run.values.push(Number(rows[i]!.value))
      }
      fresh.push(...chunkRows(id, 0, run))
    }
    const last = rows.at(-1)!
    await db.$client.batch(
      [
        ...replaceChunks([], fresh),
        {
          sql: 'delete from points_legacy where (series_id, ts) <= (?, ?)',
          args: [Number(last.series_id), Number(last.ts)],
        },
      ],
      'write',
    )
    converted += rows.length
    log?.info('converting raw points to chunks', { converted })
  }
  await db.$client.execute('drop table points_legacy')
  return converted
}

const SKETCH_PAGE_ROWS = 20_000

type Key = [number, number, number]

/**
 * The start-up conversions of rollup rows (text sketches, then unpacked minutes) share this loop: while
 * the mark table `mark` (left by their migration) exists, read a page of rows in key order after the
 * last page's key, convert it (`convert` writes in one transaction and answers how many rows it
 * changed), and drop the mark when no page is left. A crash resumes at the next start: the mark is
 * still there, and a converted row is either gone or reads as converted.
 */
async function convertRollupPages(
  db: Db,
  o: {
    mark: string
    select: string
    pageRows: number
    log?: Logger
    message: string
    convert: (rows: unknown[][]) => Promise<number>
  },
) {
  const found = await db.$client.execute({
    sql: "select 1 from sqlite_master where type = 'table' and name = ?",
    args: [o.mark],
  })
  if (!found.rows.length) return 0
  let converted = 0
  let after: Key = [-1, -1, -1]
  for (;;) {
    // Each `select` names series_id, resolution and bucket first and reads after the key bound here.
    const rows = await readRows(db, o.select, [...after, o.pageRows])
    if (!rows.length) break
    const last = rows.at(-1)!
    after = [Number(last[0]), Number(last[1]), Number(last[2])]
    const n = await o.convert(rows)
    if (!n) continue
    converted += n
    o.log?.info(o.message, { converted })
  }
  await db.$client.execute(`drop table ${o.mark}`)
  return converted
}

/**
 * Re-encodes the rollup sketches migration 0028 left in their text form (`zero|i:c,…|i:c,…`) in the
 * binary one (sketch.ts), a page of rows in key order at a time, each page one transaction: a crash
 * resumes at the next start (only text rows are read again), and a row converted twice is the same.
 * Run at start-up before the server answers (and before the jobs start), so every reader sees
 * binary sketches only. Migration 0028 leaves the table `rollups_text_sketches` as the mark that
 * there may be text rows; it is dropped when they are done, so a later start reads nothing.
 * Returns the rows converted.
 */
export async function convertTextSketches(
  db: Db,
  { log, pageRows = SKETCH_PAGE_ROWS }: { log?: Logger; pageRows?: number } = {},
) {
  return convertRollupPages(db, {
    mark: 'rollups_text_sketches',
    select: `select series_id, resolution, bucket, sketch, typeof(sketch) = 'text' from rollups
      where (series_id, resolution, bucket) > (?, ?, ?) order by series_id, resolution, bucket limit ?`,
    pageRows,
    log,
    message: 'converting rollup sketches to their binary form',
    convert: async (rows) => {
      // Positional rows and the writer's kept statement (writeNow): the same update text 20,000 times
      // a page is prepared once, not per row as the client's batch would.
      const updates = rows
        .filter((r) => Number(r[4]) === 1)
        .map((r) => ({
          sql: 'update rollups set sketch = ? where series_id = ? and resolution = ? and bucket = ?',
          args: [encodeSketch(decodeSketchText(String(r[3]))), Number(r[0]), Number(r[1]), Number(r[2])],
        }))
      if (updates.length) await writeNow(db, updates)
      return updates.length
    },
  })
}

const MINUTE_PAGE_ROWS = 20_000

/**
 * Packs the 1-minute rows that `rollups` held before migration 0030 into `rollup_minutes`, an hour a
 * row (ADR 0030), a page of rows in key order at a time: each page's packs written (an hour cut by the
 * page's end is merged into its pack by the next) and its rows deleted in one transaction. Run at
 * start-up after `convertTextSketches` (the packs hold binary sketches) and before the server answers;
 * migration 0030's mark `rollups_unpacked_minutes` is dropped when done. Returns the minutes packed.
 */
export async function packMinuteRows(
  db: Db,
  { log, pageRows = MINUTE_PAGE_ROWS }: { log?: Logger; pageRows?: number } = {},
) {
  return convertRollupPages(db, {
    mark: 'rollups_unpacked_minutes',
    select: `select series_id, resolution, bucket, count, sum, min, max, coalesce(last, max), bucket + last_offset,
      sketch from rollups where (series_id, resolution, bucket) > (?, ?, ?) and resolution = 60
      order by series_id, resolution, bucket limit ?`,
    pageRows,
    log,
    message: 'packing 1-minute rollups an hour a row',
    convert: async (rows) => {
      const minutes: SeriesMinute[] = rows.map((r) => ({
        seriesId: Number(r[0]),
        bucket: Number(r[2]),
        count: Number(r[3]),
        sum: Number(r[4]),
        min: Number(r[5]),
        max: Number(r[6]),
        last: Number(r[7]),
        lastTs: Number(r[8]),
        sketch: r[9] instanceof Uint8Array ? r[9] : new Uint8Array(r[9] as ArrayBuffer),
      }))
      const first = rows[0]!
      const last = rows.at(-1)!
      await db.batch([
        db
          .delete(rollups)
          .where(
            and(
              eq(rollups.resolution, 60),
              sql`(series_id, resolution, bucket) >= (${Number(first[0])}, 60, ${Number(first[2])})`,
              sql`(series_id, resolution, bucket) <= (${Number(last[0])}, 60, ${Number(last[2])})`,
            ),
          ),
        ...(await minuteWrites(db, minutes)),
      ])
      return rows.length
    },
  })
}
