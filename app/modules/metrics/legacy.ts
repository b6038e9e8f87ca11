import type { Db } from '../../../db/client.ts'
import type { Logger } from '../../lib/logger.ts'
import { chunkRows, type ChunkRow } from './chunks.ts'
import { replaceChunks } from './inbox.ts'

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
