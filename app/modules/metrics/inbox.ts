import type { InStatement } from '@libsql/client'
import { writerOf, type Db, type WriteStatement } from '../../../db/client.ts'
import type { Logger } from '../../lib/logger.ts'
import { CHUNK_POINTS, CHUNK_SPAN_MS, chunkPoints, chunkRows, decodeBatch, mergeRun, type ChunkRow } from './chunks.ts'
import { powerOfTwoChunks } from './store.ts'

/*
 * Raw points live in two tables (ADR 0019). A write is one row of `point_batches`: the request's
 * points packed in a blob, in arrival order (an AUTOINCREMENT `seq`), committed before the write
 * is answered; one row a request, whatever its series. The mover below turns the inbox into
 * per-series chunks (`point_chunks`, chunks.ts) behind it. Every reader of raw points merges both:
 * for the same series and ms the source of the higher seq wins (the later write).
 */

/**
 * Points a move takes at most (whole batches; at least one). A move holds its points several times
 * over in memory (the batches, per-series arrays, the merged runs, the encoded chunks): at 500 000
 * a catching-up mover alone took ≈ 40 MB of heap during a backfill (issue 23); a live feed's move
 * is MOVE_MIN_POINTS to a second of writes, well under this.
 */
export const MOVE_MAX_ROWS = 100_000
/** The mover waits for this many points (or MOVE_MAX_AGE_MS) so each chunk rewrite carries several points a series. */
export const MOVE_MIN_POINTS = 20_000
export const MOVE_MAX_AGE_MS = 30_000

export type RawPoint = { seriesId: number; ts: number; value: number }
type Batch = { seq: number; n: number; data: ArrayBuffer }
type Row = Record<string, unknown>

const rowsOf = async (db: Db, stmt: InStatement) => (await db.$client.execute(stmt)).rows as unknown as Row[]
const blob = (v: unknown) => (v instanceof ArrayBuffer ? v : (v as Uint8Array))
const placeholders = (n: number) => '?,'.repeat(n).slice(0, -1)
const toChunk = (r: Row): ChunkRow => ({
  seriesId: Number(r.series_id),
  startTs: Number(r.start_ts),
  seq: Number(r.seq),
  endTs: Number(r.end_ts),
  n: Number(r.n),
  data: new Uint8Array(blob(r.data)),
})

/** Chunks of these series that may hold points in [from, to) (a chunk spans less than CHUNK_SPAN_MS). */
async function chunksIn(db: Db, seriesIds: number[], from: number, to: number, endsFrom = from) {
  const rows = await rowsOf(db, {
    sql: `select series_id, start_ts, seq, end_ts, n, data from point_chunks where series_id in (${placeholders(seriesIds.length)}) and start_ts > ? and start_ts < ? and end_ts >= ?`,
    args: [...seriesIds, from - CHUNK_SPAN_MS, to, endsFrom],
  })
  return rows.map(toChunk)
}

/** Inbox batches read once for several `readRuns` over the same range (opaque to callers). */
export type InboxBatches = Batch[]

/** Inbox batches that may hold points in [from, to), oldest first. */
async function batchesIn(db: Db, from: number, to: number): Promise<Batch[]> {
  const rows = await rowsOf(db, {
    sql: 'select seq, n, data from point_batches where max_ts >= ? and min_ts < ? order by seq',
    args: [from, to],
  })
  return rows.map((r) => ({ seq: Number(r.seq), n: Number(r.n), data: blob(r.data) as ArrayBuffer }))
}

/**
 * The series that may have raw points in [from, to), and the inbox over it (for `readRuns`): every
 * series with a point of an inbox batch in the range, and every series with a chunk overlapping it
 * (found on `point_chunks_end_idx`, no chunk's data read). The inbox is read first: a batch moved into
 * a chunk in between is then found as that chunk. A series whose chunk straddles the range without a
 * point in it is named too (its read finds nothing); one with neither is not.
 */
export async function seriesWithPoints(db: Db, from: number, to: number) {
  const batches = await batchesIn(db, from, to)
  const ids = new Set<number>()
  for (const b of batches) {
    const { ts, seriesIds } = decodeBatch(b.data, b.n)
    for (let i = 0; i < b.n; i++) if (ts[i]! >= from && ts[i]! < to) ids.add(seriesIds[i]!)
  }
  // A chunk spans less than CHUNK_SPAN_MS, so one overlapping the range ends before `to` + CHUNK_SPAN_MS.
  const rows = await rowsOf(db, {
    sql: 'select distinct series_id from point_chunks where end_ts >= ? and end_ts < ? and start_ts < ?',
    args: [from, to + CHUNK_SPAN_MS, to],
  })
  for (const r of rows) ids.add(Number(r.series_id))
  return { ids, batches }
}

type Source = Parameters<typeof mergeRun>[0][number]

/**
 * Each wanted series' sources within [from, to): its chunks, then its inbox points as one source,
 * in batch order. An inbox point of a batch no newer than the series' newest chunk read is left
 * out: a chunk of seq s was made from every batch up to s (seq is commit order), so it holds that
 * point or a later write of it (a mover of another instance moved it meanwhile).
 */
function sourcesOf(wanted: Set<number>, chunks: ChunkRow[], batches: Batch[], from: number, to: number) {
  type Acc = { sources: Source[]; newest: number; ts: number[]; values: number[]; seqs: number[] }
  const bySeries = new Map<number, Acc>()
  const accOf = (id: number) => {
    let a = bySeries.get(id)
    if (!a) bySeries.set(id, (a = { sources: [], newest: -1, ts: [], values: [], seqs: [] }))
    return a
  }
  for (const c of chunks) {
    if (!wanted.has(c.seriesId)) continue
    const a = accOf(c.seriesId)
    a.sources.push({ seq: c.seq, chunk: true, points: (each) => chunkPoints(c, from, to, each) })
    if (c.seq > a.newest) a.newest = c.seq
  }
  for (const b of batches) {
    const { ts, values, seriesIds } = decodeBatch(b.data, b.n)
    for (let i = 0; i < b.n; i++) {
      const id = seriesIds[i]!
      const t = ts[i]!
      if (t < from || t >= to || !wanted.has(id)) continue
      const a = accOf(id)
      a.ts.push(t)
      a.values.push(values[i]!)
      a.seqs.push(b.seq)
    }
  }
  const out = new Map<number, Source[]>()
  for (const [id, a] of bySeries) {
    if (a.ts.length)
      a.sources.push({
        seq: Number.MAX_SAFE_INTEGER, // after every chunk
        chunk: false,
        points: (each) => {
          for (let i = 0; i < a.ts.length; i++) if (a.seqs[i]! > a.newest) each(a.ts[i]!, a.values[i]!)
        },
      })
    out.set(id, a.sources)
  }
  return out
}

/**
 * Raw points of these series in [from, to), from chunks and the inbox, each series' points in time
 * order (series in no particular order).
 */
export async function readRaw(db: Db, seriesIds: number[], from: number, to: number): Promise<RawPoint[]> {
  const out: RawPoint[] = []
  for (const run of await readRuns(db, seriesIds, from, to))
    for (let i = 0; i < run.ts.length; i++) out.push({ seriesId: run.seriesId, ts: run.ts[i]!, value: run.values[i]! })
  return out
}

/**
 * Like readRaw, as one time-ordered run per series that has points, in series id order. `batches`: the
 * inbox over [from, to) when the caller read it already (`inboxIn`), for reads of many slices of series.
 */
export async function readRuns(db: Db, seriesIds: number[], from: number, to: number, batches?: InboxBatches) {
  if (!seriesIds.length || !(from < to)) return []
  const wanted = new Set(seriesIds)
  const ids = [...wanted]
  const chunks: ChunkRow[] = []
  for (let i = 0; i < ids.length; i += 500) chunks.push(...(await chunksIn(db, ids.slice(i, i + 500), from, to)))
  batches ??= await batchesIn(db, from, to)
  const bySeries = sourcesOf(wanted, chunks, batches, from, to)
  return [...bySeries.keys()]
    .sort((a, b) => a - b)
    .map((seriesId) => ({ seriesId, ...mergeRun(bySeries.get(seriesId)!) }))
    .filter((r) => r.ts.length > 0)
}

/** Points held by each of these series' chunks in [from, to) (whole chunks counted). */
export async function pointsPerSeries(db: Db, seriesIds: number[], from: number, to: number) {
  const rows = await rowsOf(db, {
    sql: `select series_id, sum(n) as n from point_chunks where series_id in (${placeholders(seriesIds.length)}) and start_ts > ? and start_ts < ? and end_ts >= ? group by series_id`,
    args: [...seriesIds, from - CHUNK_SPAN_MS, to, from],
  })
  return new Map(rows.map((r) => [Number(r.series_id), Number(r.n)]))
}

/** Where each chunk of one series starts in [from, to), with its point count: what export pages are cut by. */
export async function chunkIndex(db: Db, seriesId: number, from: number, to: number) {
  const rows = await rowsOf(db, {
    sql: 'select start_ts, n from point_chunks where series_id = ? and start_ts > ? and start_ts < ? and end_ts >= ? order by start_ts',
    args: [seriesId, from - CHUNK_SPAN_MS, to, from],
  })
  return rows.map((r) => ({ startTs: Number(r.start_ts), n: Number(r.n) }))
}

const CHUNK_ROWS_PER_STATEMENT = 256
const deleteChunksSql = (n: number) =>
  `delete from point_chunks where (series_id, start_ts, seq) in (values ${'(?,?,?),'.repeat(n).slice(0, -1)})`
const insertChunksSql = (n: number) =>
  `insert into point_chunks (series_id, start_ts, seq, end_ts, n, data) values ${'(?,?,?,?,?,?),'.repeat(n).slice(0, -1)} on conflict (series_id, start_ts, seq) do update set end_ts = excluded.end_ts, n = excluded.n, data = excluded.data`

/**
 * The statements that replace `old` chunks by `fresh` ones (old ones by exact key: a raced mover's
 * stay), many rows a statement in power-of-two counts, so few SQL texts exist to prepare.
 */
export function replaceChunks(old: ChunkRow[], fresh: ChunkRow[]): WriteStatement[] {
  const out: WriteStatement[] = []
  let i = 0
  for (const n of powerOfTwoChunks(old.length, CHUNK_ROWS_PER_STATEMENT)) {
    const args: number[] = []
    for (const c of old.slice(i, (i += n))) args.push(c.seriesId, c.startTs, c.seq)
    out.push({ sql: deleteChunksSql(n), args })
  }
  i = 0
  for (const n of powerOfTwoChunks(fresh.length, CHUNK_ROWS_PER_STATEMENT)) {
    const args: (number | Uint8Array)[] = []
    for (const c of fresh.slice(i, (i += n))) args.push(c.seriesId, c.startTs, c.seq, c.endTs, c.n, c.data)
    out.push({ sql: insertChunksSql(n), args })
  }
  return out
}

/** Runs statements in one write transaction: on the writer's kept statements for a local file. */
export async function writeAll(db: Db, statements: WriteStatement[]) {
  const writer = writerOf(db)
  if (writer) writer.write(statements)
  else await db.$client.batch(statements, 'write')
}

/**
 * Deletes the points of these series before `cutoff`: whole chunks by range, and a chunk that
 * straddles it written again from its first point at or after it (same seq). Returns points deleted.
 */
export async function cutChunks(db: Db, seriesIds: number[], cutoff: number) {
  if (!seriesIds.length) return 0
  const list = placeholders(seriesIds.length)
  const straddling = (
    await rowsOf(db, {
      sql: `select series_id, start_ts, seq, end_ts, n, data from point_chunks where series_id in (${list}) and start_ts > ? and start_ts < ? and end_ts >= ?`,
      args: [...seriesIds, cutoff - CHUNK_SPAN_MS, cutoff, cutoff],
    })
  ).map(toChunk)
  const fresh: ChunkRow[] = []
  let deleted = 0
  for (const c of straddling) {
    const run = { ts: [] as number[], values: [] as number[] }
    chunkPoints(c, cutoff, Number.MAX_SAFE_INTEGER, (t, v) => {
      run.ts.push(t)
      run.values.push(v)
    })
    deleted += c.n - run.ts.length
    fresh.push(...chunkRows(c.seriesId, c.seq, run))
  }
  const [gone] = await db.$client.batch(
    [
      {
        sql: `delete from point_chunks where series_id in (${list}) and end_ts < ? returning n`,
        args: [...seriesIds, cutoff],
      },
      ...replaceChunks(straddling, fresh),
    ],
    'write',
  )
  for (const r of gone?.rows ?? []) deleted += Number(r.n)
  return deleted
}

/** Every series with a point in the inbox. */
export async function seriesInInbox(db: Db) {
  const out = new Set<number>()
  for (const r of await rowsOf(db, 'select n, data from point_batches'))
    for (const id of decodeBatch(blob(r.data), Number(r.n)).seriesIds) out.add(id)
  return out
}

/**
 * Moves the oldest inbox batches (about `maxRows` points, whole batches) into chunks, and deletes
 * them from the inbox, in one transaction: a crash or a failure leaves both tables as they were.
 * Each series' open chunk (and any chunk its new points overlap) is read, merged with its new
 * points and written again. Safe with movers in other instances: chunks are replaced by exact key,
 * and a chunk written from batches another mover already moved carries their seq, so whichever
 * overlaps, the later write still wins. Returns the number of points moved.
 */
export async function moveInbox(db: Db, { maxRows = MOVE_MAX_ROWS, minRows = 0, maxAgeMs = 0, now = Date.now() } = {}) {
  const heads = await rowsOf(db, 'select seq, n, at from point_batches order by seq')
  if (!heads.length) return 0
  const total = heads.reduce((n, r) => n + Number(r.n), 0)
  if (total < minRows && now - Number(heads[0]!.at) < maxAgeMs) return 0
  let last = 0
  let points = 0
  for (const h of heads) {
    last = Number(h.seq)
    points += Number(h.n)
    if (points >= maxRows) break
  }
  const batches = (
    await rowsOf(db, { sql: 'select seq, n, data from point_batches where seq <= ? order by seq', args: [last] })
  ).map((r) => ({ seq: Number(r.seq), n: Number(r.n), data: blob(r.data) as ArrayBuffer }))
  // Every series in the move, and the span of its new points.
  const first = new Map<number, number>()
  const lastOf = new Map<number, number>()
  let earliest = Infinity
  let latest = -Infinity
  for (const b of batches) {
    const { ts, seriesIds } = decodeBatch(b.data, b.n)
    for (let i = 0; i < b.n; i++) {
      const id = seriesIds[i]!
      const t = ts[i]!
      const f = first.get(id)
      if (f === undefined || t < f) first.set(id, t)
      const l = lastOf.get(id)
      if (l === undefined || t > l) lastOf.set(id, t)
      if (t < earliest) earliest = t
      if (t > latest) latest = t
    }
  }
  // Chunks the new points may overlap or extend: whatever starts within a span before the earliest
  // and no later than the latest. Chunks after a series' new points are left as they are: a backfill
  // behind days of newer data must not read (and re-encode) all of it on every move (issue 23).
  const ids = [...first.keys()]
  const near: ChunkRow[] = []
  for (let i = 0; i < ids.length; i += 500)
    near.push(...(await chunksIn(db, ids.slice(i, i + 500), earliest, latest + 1, -Number.MAX_SAFE_INTEGER)))
  // Each series' chunk just before its new points (its open chunk when they are the newest): it is
  // extended while not full, so a run of moves fills chunks instead of cutting one per move.
  const before = new Map<number, ChunkRow>()
  for (const c of near) {
    if (c.startTs > first.get(c.seriesId)!) continue
    const o = before.get(c.seriesId)
    if (!o || c.startTs > o.startTs) before.set(c.seriesId, c)
  }
  const merged = near.filter(
    (c) =>
      (c.endTs >= first.get(c.seriesId)! && c.startTs <= lastOf.get(c.seriesId)!) ||
      (before.get(c.seriesId) === c && c.n < CHUNK_POINTS),
  )
  const everything = sourcesOf(new Set(ids), merged, batches, -Infinity, Infinity)
  const fresh: ChunkRow[] = []
  // Every new chunk carries the newest batch it holds: all up to `last`, or a raced mover's newer chunk's.
  const newest = new Map<number, number>()
  for (const c of merged) newest.set(c.seriesId, Math.max(newest.get(c.seriesId) ?? 0, c.seq))
  for (const [id, sources] of everything)
    fresh.push(...chunkRows(id, Math.max(last, newest.get(id) ?? 0), mergeRun(sources)))
  await writeAll(db, [
    ...replaceChunks(merged, fresh),
    { sql: 'delete from point_batches where seq <= ?', args: [last] },
  ])
  return batches.reduce((n, b) => n + b.n, 0)
}

/**
 * Moves the inbox every `intervalMs` once it holds MOVE_MIN_POINTS or its oldest batch is
 * MOVE_MAX_AGE_MS old, at once again while a move was full (catching up). Any number of instances
 * may run it. `afterFullMove` runs after each full move, before the next: the server passes the
 * runtime's full collection there, so a backfill's moves do not pile their garbage into a heap the
 * runtime then keeps (ADR 0026).
 */
export function startInboxMover(
  db: Db,
  {
    intervalMs,
    maxRows = MOVE_MAX_ROWS,
    minRows = MOVE_MIN_POINTS,
    maxAgeMs = MOVE_MAX_AGE_MS,
    log,
    afterFullMove,
  }: {
    intervalMs: number
    maxRows?: number
    minRows?: number
    maxAgeMs?: number
    log: Logger
    afterFullMove?: () => void
  },
) {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> | undefined
  const tick = () => {
    running = (async () => {
      let moved = 0
      try {
        moved = await moveInbox(db, { maxRows, minRows, maxAgeMs })
      } catch (e) {
        log.warn('moving the points inbox failed; will retry', { error: e instanceof Error ? e.message : String(e) })
      }
      if (moved >= maxRows) afterFullMove?.()
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
