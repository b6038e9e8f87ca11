import { count, eq, inArray } from 'drizzle-orm'
import { writerOf, type Db, type WriteStatement } from '../../../db/client.ts'
import { series } from '../../../db/schema/metrics.ts'
import { sha256 } from '../../lib/crypto.ts'
import { AppError } from '../../lib/errors.ts'
import { encodeBatch } from './chunks.ts'
import { createKindRecorder } from './kinds.ts'

/**
 * One value of one series. `key`, when given, must identify the name and labels as exactly as
 * they do (e.g. remote write's label bytes, prefixed with \u0001): it spares hashing the labels.
 */
export type Sample = { name: string; labels: Record<string, string>; value: number; ts: number; key?: string }

/** A series as a write names it: `key` as in Sample. */
export type SeriesRef = { name: string; labels: Record<string, string>; key?: string }

/**
 * Samples as columns, no object a sample (remote write's decoder makes these, ADR 0031): sample i
 * is of `series[seriesOf[i]]`, at `ts[i]` with `values[i]`.
 */
export type SampleColumns = { series: SeriesRef[]; seriesOf: Uint32Array; ts: Float64Array; values: Float64Array }
export type Samples = Sample[] | SampleColumns

export const sampleCount = (samples: Samples) => (Array.isArray(samples) ? samples.length : samples.ts.length)

/** The metric names written. */
export function sampleNames(samples: Samples): Set<string> {
  const names = new Set<string>()
  for (const s of Array.isArray(samples) ? samples : samples.series) names.add(s.name)
  return names
}

/** The columns as one object a sample (for a derivation, which reads samples). */
export function samplesOf(c: SampleColumns): Sample[] {
  const out = new Array<Sample>(c.ts.length)
  for (let i = 0; i < c.ts.length; i++) {
    const s = c.series[c.seriesOf[i]!]!
    out[i] = { name: s.name, labels: s.labels, value: c.values[i]!, ts: c.ts[i]!, key: s.key }
  }
  return out
}

export const MINUTE = 60_000
// Minutes are rolled up this long after they end. A point older than this may land behind the 1m
// watermark, so it marks its minute for a rebuild.
export const SETTLE_MS = MINUTE
export const RESOLUTIONS = [60, 3600, 86_400] as const
export type Resolution = (typeof RESOLUTIONS)[number]

/** Labels sorted by name, so the same set always has the same text and fingerprint. */
export function canonicalLabels(labels: Record<string, string>) {
  return Object.fromEntries(
    Object.entries(labels)
      .filter(([, value]) => value !== '')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  )
}

export const fingerprintOf = (name: string, labels: Record<string, string>) =>
  sha256(`${name}\u0000${JSON.stringify(labels)}`).slice(0, 32)

/**
 * Extra samples to write with a batch, computed from it; they are stored in the same atomic batch.
 * `from`, when set, is the one metric it derives from: columns without it are not turned into samples.
 */
export type Derive = ((samples: Sample[]) => Sample[] | Promise<Sample[]>) & { from?: string }

// Statements carry a power-of-two number of rows up to these (2 parameters a row, well under
// SQLite's 32 766), so a handful of SQL texts serve every size and the writer's prepared
// statements are reused (db/client.ts `writerOf`): 1 000 rows are 512 + 256 + 128 + 64 + 32 + 8.
const MARK_ROWS_PER_STATEMENT = 2048
const TOUCH_IDS_PER_STATEMENT = 4096

/** Splits n rows into power-of-two counts of at most `max`, largest first. */
export function powerOfTwoChunks(n: number, max: number) {
  const out: number[] = []
  while (n > 0) {
    let size = max
    while (size > n) size >>>= 1
    out.push(size)
    n -= size
  }
  return out
}

// The hot path writes through the client with prepared text, one string per row count: building
// thousands of rows through the query builder costs more than SQLite's own insert. A write's points
// go to the inbox as one packed row (app/modules/metrics/inbox.ts); a later point of the same series
// and ms in it wins over an earlier one, and a later row over an earlier row.
const insertBatchSql = () => 'insert into point_batches (at, min_ts, max_ts, n, data) values (?, ?, ?, ?, ?)'
const markDirtySql = (n: number) =>
  `insert into rollup_dirty (resolution, series_id, bucket) values ${'(60,?,?),'.repeat(n).slice(0, -1)} on conflict do nothing`
const touchSeriesSql = (n: number) => `update series set last_seen_at = ? where id in (${'?,'.repeat(n).slice(0, -1)})`

function memo(make: (n: number) => string) {
  const cache = new Map<number, string>()
  return (n: number) => {
    let text = cache.get(n)
    if (!text) cache.set(n, (text = make(n)))
    return text
  }
}

/** Distinct (series, ms) pairs, by ms then series: no string a point. */
function pairs(sids: Uint32Array, ts: Float64Array) {
  const byTs = new Map<number, Set<number>>()
  for (let i = 0; i < ts.length; i++) {
    const ids = byTs.get(ts[i]!)
    if (ids) ids.add(sids[i]!)
    else byTs.set(ts[i]!, new Set([sids[i]!]))
  }
  let n = 0
  for (const ids of byTs.values()) n += ids.size
  return n
}

/** What one write stores: its inbox row, dirty minutes as (series, bucket) pairs, series to touch. */
type Rows = { batch: Batch; marks: number[]; touch: number[]; now: number }
type Batch = { minTs: number; maxTs: number; n: number; data: Uint8Array }
type Pending = Rows & { resolve: () => void; reject: (e: unknown) => void }

const later: (run: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (run) => void globalThis.setImmediate(run)
    : (run) => void setTimeout(run, 0)

// What the series id caches may hold, by an estimate of their bytes. A series' label text is up to
// 32 labels of 1 KB, so a bound on entries alone would let long label sets keep gigabytes; this
// keeps the ids of every series a large fleet writes while bounding what a hostile one can pin.
export const SERIES_CACHE_BYTES = 64 * 1024 * 1024
// A Map entry's own cost besides its key's characters (the entry, the number, the string header).
const ENTRY_BYTES = 64

export type StoreOptions = {
  derive?: Derive
  /** New series refused beyond this many per metric name (METRICS_MAX_SERIES_PER_METRIC); none when absent. */
  maxSeriesPerMetric?: number
  /** Told how many new series a refused write carried (homeostat_series_refused_total). */
  onSeriesRefused?: (n: number) => void
  /** Bound of the series id caches, by estimated bytes. */
  cacheBytes?: number
}

/**
 * Writes samples. Series ids are cached (by the label text as sent, then by fingerprint); each
 * call is one atomic batch, so a request's points are stored whole or not at all, and the same
 * series and ms written again keeps one point with the last value. A write that would create more
 * series of a metric than `maxSeriesPerMetric` is refused whole (400 naming the metric).
 */
export function createMetricStore(db: Db, options: StoreOptions = {}) {
  const ids = new Map<string, number>() // fingerprint → id
  const byText = new Map<string, number>() // name + labels as sent → id: skips sorting and hashing
  let cachedBytes = 0
  const cacheBytes = options.cacheBytes ?? SERIES_CACHE_BYTES
  const touched = new Map<number, number>()
  // Series per metric name, loaded with the first new series and kept up to date by this store's
  // inserts, so the limit costs no count per write. Series made by another instance or forgotten
  // by retention are seen when a metric looks full: it is counted again before it is refused.
  let perMetric: Map<string, number> | undefined

  async function admit(fresh: { name: string }[]) {
    const max = options.maxSeriesPerMetric
    if (max === undefined || !fresh.length) return
    perMetric ??= new Map(
      (await db.select({ name: series.name, n: count() }).from(series).groupBy(series.name)).map((r) => [r.name, r.n]),
    )
    const adding = new Map<string, number>()
    for (const f of fresh) adding.set(f.name, (adding.get(f.name) ?? 0) + 1)
    const over: { field: string; message: string }[] = []
    let refused = 0
    for (const [name, n] of adding) {
      if ((perMetric.get(name) ?? 0) + n <= max) continue
      const [row] = await db.select({ n: count() }).from(series).where(eq(series.name, name))
      const has = row?.n ?? 0
      perMetric.set(name, has)
      if (has + n <= max) continue
      refused += n
      over.push({
        field: name,
        message: `has ${has} series; ${n} new would pass the limit of ${max} per metric (METRICS_MAX_SERIES_PER_METRIC)`,
      })
    }
    if (!over.length) return
    options.onSeriesRefused?.(refused)
    throw new AppError(
      400,
      'series_limit',
      `Too many series for ${over.map((o) => o.field).join(', ')}; nothing was written`,
      over.slice(0, 100),
    )
  }
  const sqlFor = { marks: memo(markDirtySql), touch: memo(touchSeriesSql) }

  async function seriesIds<S extends SeriesRef>(samples: S[], now: number) {
    const out = new Array<number>(samples.length)
    const pending: { index: number; text: string; fp: string }[] = []
    const wanted = new Map<string, { name: string; labels: Record<string, string> }>()
    for (let index = 0; index < samples.length; index++) {
      const s = samples[index]!
      const text = s.key ?? `${s.name}\u0000${JSON.stringify(s.labels)}`
      const known = byText.get(text)
      if (known !== undefined) {
        out[index] = known
        continue
      }
      const labels = canonicalLabels(s.labels)
      const fp = fingerprintOf(s.name, labels)
      pending.push({ index, text, fp })
      if (!ids.has(fp)) wanted.set(fp, { name: s.name, labels })
    }
    const found = new Map<string, number>()
    if (wanted.size) {
      // Known series first (the cache may have been cleared), then the limit over the new ones,
      // all before any insert: a refused write creates no series.
      const missing = [...wanted.keys()]
      for (let i = 0; i < missing.length; i += 500) {
        const rows = await db
          .select({ id: series.id, fp: series.fingerprint })
          .from(series)
          .where(inArray(series.fingerprint, missing.slice(i, i + 500)))
        for (const r of rows) found.set(r.fp, r.id)
      }
      const fresh = missing.filter((fp) => !found.has(fp))
      await admit(fresh.map((fp) => wanted.get(fp)!))
      for (let i = 0; i < fresh.length; i += 500) {
        const chunk = fresh.slice(i, i + 500)
        const made = await db
          .insert(series)
          .values(chunk.map((fp) => ({ fingerprint: fp, ...wanted.get(fp)!, createdAt: now, lastSeenAt: now })))
          .onConflictDoNothing()
          .returning({ id: series.id, fp: series.fingerprint, name: series.name })
        for (const r of made) {
          found.set(r.fp, r.id)
          if (perMetric) perMetric.set(r.name, (perMetric.get(r.name) ?? 0) + 1)
        }
        // Made meanwhile by another write: read back.
        const raced = chunk.filter((fp) => !found.has(fp))
        if (raced.length) {
          const rows = await db
            .select({ id: series.id, fp: series.fingerprint })
            .from(series)
            .where(inArray(series.fingerprint, raced))
          for (const r of rows) found.set(r.fp, r.id)
        }
      }
      for (const [fp, id] of found) {
        if (!ids.has(fp)) cachedBytes += fp.length + ENTRY_BYTES
        ids.set(fp, id)
      }
    }
    for (const p of pending) out[p.index] = ids.get(p.fp) ?? found.get(p.fp)!
    // Past a bound, both caches start again: a clear costs one lookup per series afterwards,
    // cheaper on the hot path than keeping an order of use.
    if (cachedBytes > cacheBytes || ids.size > 500_000 || byText.size > 1_000_000) {
      ids.clear()
      byText.clear()
      cachedBytes = 0
    }
    for (const p of pending) {
      if (byText.has(p.text)) continue
      cachedBytes += 2 * p.text.length + ENTRY_BYTES
      byText.set(p.text, out[p.index]!)
    }
    return out
  }

  function statementsFor(group: Rows[]) {
    const statements: WriteStatement[] = []
    const chunked = (all: number[], width: number, perStatement: number, sqlOf: (n: number) => string) => {
      let i = 0
      for (const rows of powerOfTwoChunks(all.length / width, perStatement)) {
        const args = all.slice(i, (i += rows * width))
        statements.push({ sql: sqlOf(rows), args })
      }
    }
    // Requests in arrival order: a later write of the same series and ms wins.
    // Each write's points in one row of its own, in order.
    for (const g of group)
      if (g.batch.n)
        statements.push({ sql: insertBatchSql(), args: [g.now, g.batch.minTs, g.batch.maxTs, g.batch.n, g.batch.data] })
    for (const g of group) chunked(g.marks, 2, MARK_ROWS_PER_STATEMENT, sqlFor.marks)
    const touches = new Map<number, Set<number>>() // now → series
    for (const g of group) {
      if (!g.touch.length) continue
      const set = touches.get(g.now) ?? new Set()
      for (const id of g.touch) set.add(id)
      touches.set(g.now, set)
    }
    for (const [at, set] of touches) {
      const ids = [...set]
      let i = 0
      for (const n of powerOfTwoChunks(ids.length, TOUCH_IDS_PER_STATEMENT))
        statements.push({ sql: sqlFor.touch(n), args: [at, ...ids.slice(i, (i += n))] })
    }
    return statements
  }

  async function run(group: Rows[]) {
    const statements = statementsFor(group)
    if (!statements.length) return
    // On a local file: one transaction on the writer's connection, with statements prepared once.
    const writer = writerOf(db)
    if (writer) return writer.write(statements)
    // One statement is atomic by itself; a batch would add BEGIN and COMMIT round trips.
    if (statements.length === 1) await db.$client.execute(statements[0]!)
    else await db.$client.batch(statements, 'write')
  }

  // Group commit: the writes that arrive within one turn of the event loop are stored in one
  // transaction, and each caller is answered only after that commit. If the group fails, each
  // write is retried in a transaction of its own, so one write's failure is only its own.
  let queue: Pending[] = []
  async function flush() {
    const group = queue
    queue = []
    try {
      await run(group)
      for (const p of group) p.resolve()
    } catch (e) {
      if (group.length === 1) return group[0]!.reject(e)
      for (const p of group) await run([p]).then(p.resolve, p.reject)
    }
  }
  function commit(rows: Rows) {
    return new Promise<void>((resolve, reject) => {
      queue.push({ ...rows, resolve, reject })
      if (queue.length === 1) later(() => void flush())
    })
  }

  async function write(input: Samples, now = Date.now()) {
    const n = sampleCount(input)
    if (!n) return { written: 0, series: 0 }
    let cols = Array.isArray(input) ? undefined : input
    let samples = Array.isArray(input) ? input : undefined
    // Points computed from the request's own (e.g. llm_cost_usd_total from llm_tokens_total) join the same atomic batch.
    const derive = options.derive
    if (derive && (!cols || derive.from === undefined || cols.series.some((s) => s.name === derive.from))) {
      samples ??= samplesOf(cols!)
      const derived = await derive(samples)
      if (derived.length) {
        samples = [...samples, ...derived]
        cols = undefined
      }
    }
    let ts: Float64Array
    let values: Float64Array
    let sids: Uint32Array
    if (cols) {
      // One lookup a series, not a sample.
      const ids = await seriesIds(cols.series, now)
      ;({ ts, values } = cols)
      sids = new Uint32Array(ts.length)
      for (let i = 0; i < ts.length; i++) sids[i] = ids[cols.seriesOf[i]!]!
    } else {
      const list = samples!
      const ids = await seriesIds(list, now)
      ts = new Float64Array(list.length)
      values = new Float64Array(list.length)
      sids = Uint32Array.from(ids)
      for (let i = 0; i < list.length; i++) {
        ts[i] = list[i]!.ts
        values[i] = list[i]!.value
      }
    }
    return storePoints(ts, values, sids, now)
  }

  /** Stores points of known series ids: their inbox row, late minutes marked dirty, series touched. */
  async function storePoints(ts: Float64Array, values: Float64Array, sids: Uint32Array, now: number) {
    const late = now - SETTLE_MS
    // Last value wins within the request too: the inbox row keeps the points in order.
    let minTs = Infinity
    let maxTs = -Infinity
    // Late minutes as bucket → series: numbers only, no string or pair a point (a backfill's
    // requests are all late points; issue 23).
    const dirty = new Map<number, Set<number>>()
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!
      if (t < minTs) minTs = t
      if (t > maxTs) maxTs = t
      if (t < late) {
        const bucket = t - (t % MINUTE)
        const ids = dirty.get(bucket)
        if (ids) ids.add(sids[i]!)
        else dirty.set(bucket, new Set([sids[i]!]))
      }
    }
    const marks: number[] = []
    for (const [bucket, ids] of dirty) for (const id of ids) marks.push(id, bucket)
    const distinct = [...new Set(sids)]
    // Points stored: one per series and ms (usually every sample is its own series, or its own ms).
    const written = distinct.length === ts.length || new Set(ts).size === ts.length ? ts.length : pairs(sids, ts)
    const stale = distinct.filter((id) => now - (touched.get(id) ?? 0) > MINUTE)
    const batch = { minTs, maxTs, n: ts.length, data: encodeBatch(ts, sids, values) }
    await commit({ batch, marks, touch: stale, now })
    // Only after the commit: a failed batch must not hide these series from the next touch.
    for (const id of stale) touched.set(id, now)
    if (touched.size > 500_000) touched.clear()
    return { written, series: distinct.length }
  }

  /** What the series id caches hold: entries and estimated bytes. */
  const cacheSize = () => ({ entries: ids.size + byText.size, bytes: cachedBytes })

  /** Forgets every cached series id (the database file was replaced by a restore). */
  const clearCache = () => {
    ids.clear()
    byText.clear()
    cachedBytes = 0
  }

  /** Records what senders declared their metrics to be (kinds.ts); the rate functions read it. */
  const declareKinds = createKindRecorder(db)

  return { write, seriesIds, cacheSize, clearCache, declareKinds }
}
export type MetricStore = ReturnType<typeof createMetricStore>
