import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/**
 * The front page's heavy tiles, computed per range by the `front-summaries` job (like a recording
 * rule) rather than per request: one row per tile and range, replaced whole at each refresh, so a
 * restarted server or a second instance on the same database serves the last one at once.
 * `data` is the tile's own JSON; `version` is the tile's shape of it (a row of another version,
 * left by an older build, is not read).
 */
export const frontSummaries = sqliteTable(
  'front_summaries',
  {
    tile: text('tile').notNull(),
    range: text('range').notNull(),
    version: integer('version').notNull(),
    /** The end of the range the figures are for (ms): the page says "as of" this time. */
    asOf: integer('as_of').notNull(),
    /** How long computing it took (ms), for Settings → System and the benchmark. */
    tookMs: integer('took_ms').notNull(),
    data: text('data', { mode: 'json' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tile, t.range] })],
)

export type FrontSummaryRow = typeof frontSummaries.$inferSelect
