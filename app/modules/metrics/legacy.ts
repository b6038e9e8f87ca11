import { type Db, readRows, writeNow } from '../../../db/client.ts'
import type { Logger } from '../../lib/logger.ts'
import { chunkRows, type ChunkRow } from './chunks.ts'
import { replaceChunks } from './inbox.ts'
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
  const mark = await db.$client.execute(
    "select 1 from sqlite_master where type = 'table' and name = 'rollups_text_sketches'",
  )
  if (!mark.rows.length) return 0
  let converted = 0
  let after: [number, number, number] = [-1, -1, -1]
  for (;;) {
    // Positional rows and the writer's kept statement (writeNow): the same update text 20,000 times
    // a page is prepared once, not per row as the client's batch would.
    const rows = await readRows(
      db,
      `select series_id, resolution, bucket, sketch, typeof(sketch) = 'text' from rollups
        where (series_id, resolution, bucket) > (?, ?, ?) order by series_id, resolution, bucket limit ?`,
      [...after, pageRows],
    )
    if (!rows.length) break
    const last = rows.at(-1)!
    after = [Number(last[0]), Number(last[1]), Number(last[2])]
    const updates = rows
      .filter((r) => Number(r[4]) === 1)
      .map((r) => ({
        sql: 'update rollups set sketch = ? where series_id = ? and resolution = ? and bucket = ?',
        args: [encodeSketch(decodeSketchText(String(r[3]))), Number(r[0]), Number(r[1]), Number(r[2])],
      }))
    if (!updates.length) continue
    await writeNow(db, updates)
    converted += updates.length
    log?.info('converting rollup sketches to their binary form', { converted })
  }
  await db.$client.execute('drop table rollups_text_sketches')
  return converted
}
