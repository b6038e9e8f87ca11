import { inArray } from 'drizzle-orm'
import { writerOf, type Db } from '../../../db/client.ts'
import { series } from '../../../db/schema/metrics.ts'
import { sha256 } from '../../lib/crypto.ts'

/**
 * One value of one series. `key`, when given, must identify the name and labels as exactly as
 * they do (e.g. remote write's label bytes, prefixed with \u0001): it spares hashing the labels.
 */
export type Sample = { name: string; labels: Record<string, string>; value: number; ts: number; key?: string }

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

/** Extra samples to write with a batch, computed from it; they are stored in the same atomic batch. */
export type Derive = (samples: Sample[]) => Sample[] | Promise<Sample[]>

// Statements carry a power-of-two number of rows up to these (3 or 2 parameters a row, well under
// SQLite's 32 766), so a handful of SQL texts serve every size and the writer's prepared
// statements are reused (db/client.ts `writerOf`): 1 000 rows are 512 + 256 + 128 + 64 + 32 + 8.
const POINT_ROWS_PER_STATEMENT = 1024
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
// thousands of rows through the query builder costs more than SQLite's own insert. Points go to
// the inbox (app/modules/metrics/inbox.ts); rows later in a statement win over earlier ones.
const upsertPointsSql = (n: number) =>
  `insert into points_inbox (ts, series_id, value) values ${'(?,?,?),'.repeat(n).slice(0, -1)} on conflict (ts, series_id) do update set value = excluded.value`
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

/** What one write stores: point rows as (ts, series, value) triples, dirty minutes as (series, bucket) pairs, series to touch. */
type Rows = { points: number[]; marks: number[]; touch: number[]; now: number }
type Pending = Rows & { resolve: () => void; reject: (e: unknown) => void }

const later: (run: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (run) => void globalThis.setImmediate(run)
    : (run) => void setTimeout(run, 0)

/**
 * Writes samples. Series ids are cached (by the label text as sent, then by fingerprint); each
 * call is one atomic batch, so a request's points are stored whole or not at all, and the same
 * series and ms written again keeps one point with the last value.
 */
export function createMetricStore(db: Db, options: { derive?: Derive } = {}) {
  const ids = new Map<string, number>() // fingerprint → id
  const byText = new Map<string, number>() // name + labels as sent → id: skips sorting and hashing
  const touched = new Map<number, number>()
  const sqlFor = { points: memo(upsertPointsSql), marks: memo(markDirtySql), touch: memo(touchSeriesSql) }

  async function seriesIds(samples: Sample[], now: number) {
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
    if (wanted.size) {
      const missing = [...wanted.keys()]
      for (let i = 0; i < missing.length; i += 500) {
        const chunk = missing.slice(i, i + 500)
        await db
          .insert(series)
          .values(chunk.map((fp) => ({ fingerprint: fp, ...wanted.get(fp)!, createdAt: now, lastSeenAt: now })))
          .onConflictDoNothing()
        const rows = await db
          .select({ id: series.id, fp: series.fingerprint })
          .from(series)
          .where(inArray(series.fingerprint, chunk))
        for (const r of rows) ids.set(r.fp, r.id)
      }
    }
    if (ids.size > 500_000 || byText.size > 1_000_000) {
      ids.clear()
      byText.clear()
    }
    for (const p of pending) {
      const id = ids.get(p.fp)!
      out[p.index] = id
      byText.set(p.text, id)
    }
    return out
  }

  function statementsFor(group: Rows[]) {
    const statements: { sql: string; args: number[] }[] = []
    const chunked = (all: number[], width: number, perStatement: number, sqlOf: (n: number) => string) => {
      let i = 0
      for (const rows of powerOfTwoChunks(all.length / width, perStatement)) {
        const args = all.slice(i, (i += rows * width))
        statements.push({ sql: sqlOf(rows), args })
      }
    }
    // Requests in arrival order: a later write of the same series and ms wins.
    // Each write's rows in statements of their own (no copy of the whole group), in order.
    for (const g of group) chunked(g.points, 3, POINT_ROWS_PER_STATEMENT, sqlFor.points)
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

  async function write(samples: Sample[], now = Date.now()) {
    if (!samples.length) return { written: 0, series: 0 }
    // Points computed from the request's own (e.g. llm_cost_usd from llm_tokens_total) join the same atomic batch.
    const derived = options.derive ? await options.derive(samples) : []
    if (derived.length) samples = [...samples, ...derived]
    const sids = await seriesIds(samples, now)
    const late = now - SETTLE_MS
    // Last value wins within the request too: rows later in the statement overwrite earlier ones.
    const pointArgs: number[] = []
    const dirty = new Map<string, [number, number]>()
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!
      const seriesId = sids[i]!
      pointArgs.push(s.ts, seriesId, s.value)
      if (s.ts < late) {
        const bucket = s.ts - (s.ts % MINUTE)
        dirty.set(`${seriesId}:${bucket}`, [seriesId, bucket])
      }
    }
    const distinct = [...new Set(sids)]
    // Points stored: one per series and ms (usually every sample is its own series, or its own ms).
    const written =
      distinct.length === samples.length || new Set(samples.map((s) => s.ts)).size === samples.length
        ? samples.length
        : new Set(samples.map((s, i) => `${sids[i]}:${s.ts}`)).size
    const stale = distinct.filter((id) => now - (touched.get(id) ?? 0) > MINUTE)
    await commit({ points: pointArgs, marks: [...dirty.values()].flat(), touch: stale, now })
    // Only after the commit: a failed batch must not hide these series from the next touch.
    for (const id of stale) touched.set(id, now)
    if (touched.size > 500_000) touched.clear()
    return { written, series: distinct.length }
  }

  return { write, seriesIds }
}
export type MetricStore = ReturnType<typeof createMetricStore>
