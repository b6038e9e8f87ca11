import { decodeChunk, encodePrefix } from './chunk-codec.ts'

/*
 * Raw points at rest: per series, runs of up to CHUNK_POINTS points in Gorilla encoding
 * (chunk-codec.ts), rows of `point_chunks` keyed (series_id, start_ts, seq). `seq` is the highest
 * inbox batch whose points the chunk holds: where two chunks of a series overlap (two movers raced,
 * see inbox.ts), the higher seq is the later write and wins, point by point; so does an inbox batch
 * over a chunk of a lower seq. Every piece here is a pure function of rows; inbox.ts does the I/O.
 */

/** Points a chunk holds at most: Prometheus' 120 doubled, as a chunk row's overhead is ≈ 40 B. */
export const CHUNK_POINTS = 240
/**
 * A chunk never spans this much time (end_ts − start_ts < it): a read of [from, to) finds every
 * chunk it needs by seeking start_ts in (from − CHUNK_SPAN_MS, to) on the primary key.
 */
export const CHUNK_SPAN_MS = 2 * 3_600_000
// A row stays in its b-tree page below ≈ 1 000 bytes (4 KB pages, WITHOUT ROWID); larger spills to
// overflow pages that every read of it follows. A run of noisy values is cut shorter to stay under.
const MAX_CHUNK_BYTES = 900

export type ChunkRow = { seriesId: number; startTs: number; seq: number; endTs: number; n: number; data: Uint8Array }

/** One series' points in time order, as parallel arrays. */
export type Run = { ts: number[]; values: number[] }

/** Cuts a sorted run into chunk rows of at most CHUNK_POINTS points, CHUNK_SPAN_MS and MAX_CHUNK_BYTES. */
export function chunkRows(seriesId: number, seq: number, run: Run): ChunkRow[] {
  const out: ChunkRow[] = []
  const { ts, values } = run
  let i = 0
  while (i < ts.length) {
    const start = ts[i]!
    let end = i + 1
    while (end < ts.length && end - i < CHUNK_POINTS && ts[end]! - start < CHUNK_SPAN_MS) end++
    const { data, n } = encodePrefix(ts, values, i, end - i, MAX_CHUNK_BYTES)
    end = i + n
    out.push({ seriesId, startTs: start, seq, endTs: ts[end - 1]!, n, data })
    i = end
  }
  return out
}

/** Calls `each` for every point of the chunk within [from, to). */
export function chunkPoints(
  row: Pick<ChunkRow, 'n' | 'data'>,
  from: number,
  to: number,
  each: (ts: number, value: number) => void,
) {
  decodeChunk(row.data, row.n, (ts, value) => {
    if (ts >= from && ts < to) each(ts, value)
  })
}

/**
 * Merges one series' sources into a time-ordered run: sources are applied in ascending seq (a
 * chunk before an inbox batch of the same seq: a chunk of seq s already holds every batch up to s),
 * a later one's value replacing an earlier one's at the same ms.
 */
export function mergeRun(
  sources: { seq: number; chunk: boolean; points: (each: (ts: number, v: number) => void) => void }[],
) {
  sources.sort((a, b) => a.seq - b.seq || (a.chunk === b.chunk ? 0 : a.chunk ? -1 : 1))
  // The usual case, one source, or sources that only append: no map needed.
  const ts: number[] = []
  const values: number[] = []
  let ordered = true
  let byTs: Map<number, number> | undefined
  for (const s of sources)
    s.points((t, v) => {
      if (byTs) return void byTs.set(t, v)
      const last = ts.length ? ts[ts.length - 1]! : -Infinity
      if (t > last) {
        ts.push(t)
        values.push(v)
        return
      }
      if (ordered) {
        ordered = false
        byTs = new Map()
        for (let i = 0; i < ts.length; i++) byTs.set(ts[i]!, values[i]!)
      }
      byTs!.set(t, v)
    })
  if (!byTs) return { ts, values }
  const keys = [...byTs.keys()].sort((a, b) => a - b)
  return { ts: keys, values: keys.map((k) => byTs!.get(k)!) }
}

// A batch blob: ts (float64 × n), values (float64 × n), series ids (uint32 × n): each section
// stays 8-byte aligned, so it is read through typed-array views without copying.
export function encodeBatch(ts: ArrayLike<number>, seriesIds: ArrayLike<number>, values: ArrayLike<number>) {
  const n = ts.length
  const buf = new ArrayBuffer(n * 20)
  new Float64Array(buf, 0, n).set(ts)
  new Float64Array(buf, n * 8, n).set(values)
  new Uint32Array(buf, n * 16, n).set(seriesIds)
  return new Uint8Array(buf)
}

export function decodeBatch(data: ArrayBuffer | Uint8Array, n: number) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data)
  // A view of an unaligned offset cannot be made: copy then (rare; drivers hand out fresh buffers).
  const own = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice()
  return {
    ts: new Float64Array(own.buffer, own.byteOffset, n),
    values: new Float64Array(own.buffer, own.byteOffset + n * 8, n),
    seriesIds: new Uint32Array(own.buffer, own.byteOffset + n * 16, n),
  }
}
