import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/** One time series: a metric name and its label set. The fingerprint identifies it. */
export const series = sqliteTable(
  'series',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    fingerprint: text('fingerprint').notNull().unique(),
    name: text('name').notNull(),
    labels: text('labels', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
  },
  (t) => [index('series_name_idx').on(t.name)],
)

// Raw samples: one value per series and millisecond, so a retried write replaces, never duplicates.
// The migration makes this a WITHOUT ROWID table clustered on (series_id, ts).
export const points = sqliteTable(
  'points',
  {
    seriesId: integer('series_id').notNull(),
    ts: integer('ts').notNull(),
    value: real('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.ts] })],
)

/**
 * Points as they arrive, before the inbox mover (app/modules/metrics/inbox.ts) copies them into
 * `points` in series order and deletes them here, in one transaction. Keyed by time first, so a
 * write of many series at one time touches a few adjacent pages, not a page per series. Readers
 * of raw points read both tables; for the same series and ms the inbox holds the later write.
 * The migration makes this a WITHOUT ROWID table.
 */
export const pointsInbox = sqliteTable(
  'points_inbox',
  {
    ts: integer('ts').notNull(),
    seriesId: integer('series_id').notNull(),
    value: real('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.ts, t.seriesId] })],
)

/** Aggregates per series, resolution (seconds: 60, 3600, 86400) and bucket start (ms). WITHOUT ROWID. */
export const rollups = sqliteTable(
  'rollups',
  {
    seriesId: integer('series_id').notNull(),
    resolution: integer('resolution').notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull(),
    sum: real('sum').notNull(),
    min: real('min').notNull(),
    max: real('max').notNull(),
    last: real('last').notNull(),
    lastTs: integer('last_ts').notNull(),
    sketch: text('sketch').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.seriesId, t.resolution, t.bucket] }),
    index('rollups_res_bucket_idx').on(t.resolution, t.bucket),
  ],
)

/**
 * Buckets behind a resolution's watermark whose source changed (late points, rebuilt finer
 * buckets): the next rollup run rebuilds them. WITHOUT ROWID.
 */
export const rollupDirty = sqliteTable(
  'rollup_dirty',
  {
    resolution: integer('resolution').notNull(),
    seriesId: integer('series_id').notNull(),
    bucket: integer('bucket').notNull(),
  },
  (t) => [primaryKey({ columns: [t.resolution, t.bucket, t.seriesId] })],
)

/** How far each resolution's rollups are complete: every bucket before the watermark is built. */
export const rollupWatermarks = sqliteTable('rollup_watermarks', {
  resolution: integer('resolution').primaryKey(),
  watermark: integer('watermark').notNull(),
})

export type Series = typeof series.$inferSelect
export type Rollup = typeof rollups.$inferSelect

/**
 * What a metric name's points mean, when a sender said so (an OTLP sum's temporality, a Prometheus
 * text `# TYPE`, or the API): `counter` (cumulative, monotonic, may reset), `delta` (each point is
 * the increase of its own interval) or `gauge`. Read by rate functions and /api/v1/metadata
 * (app/modules/metrics/kinds.ts); names Homeostat writes itself have their kind in code.
 */
export const metricKinds = sqliteTable('metric_kinds', {
  name: text('name').primaryKey(),
  kind: text('kind', { enum: ['counter', 'delta', 'gauge'] }).notNull(),
  source: text('source').notNull(),
  updatedAt: integer('updated_at').notNull(),
})
