import {
  blob,
  customType,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core'

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

/**
 * Raw points at rest: per series, runs of up to 240 points in Gorilla encoding (delta-of-delta
 * timestamps, XOR values; app/modules/metrics/chunk-codec.ts), written by the inbox mover
 * (app/modules/metrics/inbox.ts) behind the inbox. `seq` is the highest inbox batch the chunk
 * holds: where chunks of a series overlap, the higher seq is the later write and wins. A chunk
 * spans less than two hours (end_ts − start_ts), so a read seeks start_ts from two hours before its
 * range. The migration makes this a WITHOUT ROWID table (ADR 0019).
 */
export const pointChunks = sqliteTable(
  'point_chunks',
  {
    seriesId: integer('series_id').notNull(),
    startTs: integer('start_ts').notNull(),
    seq: integer('seq').notNull(),
    endTs: integer('end_ts').notNull(),
    n: integer('n').notNull(),
    data: blob('data', { mode: 'buffer' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.seriesId, t.startTs, t.seq] }),
    // The rollup job's minute step finds the series with points in it by time, reading no chunk (ADR 0033).
    index('point_chunks_end_idx').on(t.endTs, t.startTs),
  ],
)

/**
 * The inbox: each write's points as one row, in arrival order (`seq` never reused:
 * AUTOINCREMENT), packed as float64 timestamps, float64 values and uint32 series ids. Committed
 * before the write is answered; the mover turns the oldest batches into chunks and deletes them
 * in one transaction. Readers of raw points read both (app/modules/metrics/inbox.ts).
 */
export const pointBatches = sqliteTable('point_batches', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  at: integer('at').notNull(),
  minTs: integer('min_ts').notNull(),
  maxTs: integer('max_ts').notNull(),
  n: integer('n').notNull(),
  data: blob('data', { mode: 'buffer' }).notNull(),
})

// A sketch blob as bytes: libSQL's client hands blobs back as ArrayBuffer, its kept statements as Buffer.
const sketchBlob = customType<{ data: Uint8Array; driverData: Uint8Array | ArrayBuffer }>({
  dataType: () => 'blob',
  fromDriver: (v) => (v instanceof Uint8Array ? v : new Uint8Array(v)),
})

/**
 * Aggregates per series, resolution (seconds: 60, 3600, 86400) and bucket start (ms), WITHOUT ROWID
 * and with no other index (ADR 0022): `count`, `sum`, `min` and `max` as they are (SQL sums them);
 * `last` null when it equals `max`; `last_offset` the last point's ms after the bucket start;
 * `sketch` the binary quantile sketch (app/modules/metrics/sketch.ts), always stored (a one-value
 * sketch is 3 bytes, and a reader that had to rebuild it from count, min and max cost more than that
 * saved). Read rows through `decodeRollup` (app/modules/metrics/rollup.ts).
 */
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
    last: real('last'),
    lastOffset: integer('last_offset').notNull(),
    sketch: sketchBlob('sketch').notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.resolution, t.bucket] })],
)

/**
 * The 1-minute tier (ADR 0030): one row per series and hour, `data` the hour's minutes packed
 * (app/modules/metrics/minute-pack.ts: numbers coded column by column, the minutes' sketches back to
 * back), `n` how many minutes it holds. `rollups` keeps the hourly and daily tiers. Read through
 * app/modules/metrics/minutes.ts. A rowid table with a unique index, not WITHOUT ROWID: a WITHOUT ROWID row
 * keeps only ≈ 1,000 B in its page and packs of full-precision series reach 2,300 B; a rowid row keeps up to
 * ≈ 4,060 B (ADR 0030).
 */
export const rollupMinutes = sqliteTable(
  'rollup_minutes',
  {
    seriesId: integer('series_id').notNull(),
    hour: integer('hour').notNull(),
    n: integer('n').notNull(),
    data: sketchBlob('data').notNull(),
  },
  (t) => [uniqueIndex('rollup_minutes_series_hour').on(t.seriesId, t.hour)],
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
