import { describe, expect, it } from 'vitest'
import { decodeChunk, encodeChunk } from '../../app/modules/metrics/chunk-codec.ts'
import { CHUNK_POINTS, CHUNK_SPAN_MS, chunkRows, mergeRun } from '../../app/modules/metrics/chunks.ts'

const bitsOf = (x: number) => {
  const b = new DataView(new ArrayBuffer(8))
  b.setFloat64(0, x)
  return b.getBigUint64(0)
}
const fromBits = (bits: bigint) => {
  const b = new DataView(new ArrayBuffer(8))
  b.setBigUint64(0, bits)
  return b.getFloat64(0)
}

function roundTrip(ts: number[], values: number[]) {
  const data = encodeChunk(ts, values)
  const got: { ts: number[]; values: number[] } = { ts: [], values: [] }
  decodeChunk(data, ts.length, (t, v) => {
    got.ts.push(t)
    got.values.push(v)
  })
  expect(got.ts).toEqual(ts)
  // Bit for bit: NaN payloads and -0 must survive, which toEqual on numbers would not tell.
  expect(got.values.map(bitsOf)).toEqual(values.map(bitsOf))
  return data
}

// A seeded generator: the same cases on every run.
function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

describe('chunk encoding (Gorilla)', () => {
  it('round-trips a regular 15 s series in about a bit a timestamp', () => {
    const t0 = Date.UTC(2026, 11, 1)
    const ts = Array.from({ length: 240 }, (_, i) => t0 + i * 15_000)
    const values = ts.map((_, i) => 100 + (i % 7))
    const data = roundTrip(ts, values)
    expect(data.length).toBeLessThan(240 * 2)
  })

  it('keeps NaN (Prometheus stale marker and others), ±Inf, -0, extremes bit-exact', () => {
    const stale = fromBits(0x7ff0000000000002n)
    const values = [
      0,
      -0,
      Number.NaN,
      stale,
      Infinity,
      -Infinity,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      -1e-300,
      1,
      1,
      stale,
    ]
    const ts = values.map((_, i) => 1_000 + i)
    // (A JS engine may quiet a signalling NaN when it reads one: what it hands over comes back exactly.)
    roundTrip(ts, values)
  })

  it('round-trips random bit patterns and irregular, large and negative timestamp steps', () => {
    const next = rng(42)
    for (let round = 0; round < 50; round++) {
      const n = 1 + Math.floor(next() * 300)
      const ts: number[] = []
      let t = Math.floor((next() - 0.5) * 2 ** 52)
      for (let i = 0; i < n; i++) {
        ts.push(t)
        const kind = next()
        // Steps of every delta-of-delta class: equal, small jitter, minutes, years.
        t +=
          kind < 0.3
            ? 15_000
            : kind < 0.6
              ? 1 + Math.floor(next() * 300)
              : kind < 0.9
                ? Math.floor(next() * 1e6) + 1
                : Math.floor(next() * 2 ** 40) + 1
      }
      const values = ts.map(() => {
        const k = next()
        if (k < 0.3) return Math.round(next() * 100)
        const b = new DataView(new ArrayBuffer(8))
        b.setUint32(0, Math.floor(next() * 2 ** 32))
        b.setUint32(4, Math.floor(next() * 2 ** 32))
        return b.getFloat64(0)
      })
      roundTrip(ts, values)
    }
  })

  it('encodes an empty and a one-point chunk', () => {
    expect(encodeChunk([], []).length).toBe(0)
    decodeChunk(new Uint8Array(0), 0, () => expect.fail('no points'))
    roundTrip([Date.UTC(2026, 0, 1)], [42.5])
  })

  it('refuses to read a truncated chunk instead of inventing points', () => {
    const ts = Array.from({ length: 50 }, (_, i) => i * 1000)
    const data = encodeChunk(
      ts,
      ts.map((_, i) => Math.sin(i)),
    )
    expect(() => decodeChunk(data.slice(0, data.length - 20), 50, () => {})).toThrow(/ends early/)
  })
})

describe('chunk rows and merging', () => {
  it('cuts a run at CHUNK_POINTS points and at CHUNK_SPAN_MS', () => {
    const ts = Array.from({ length: 1000 }, (_, i) => i * 1000)
    const rows = chunkRows(7, 3, { ts, values: ts.map((t) => t / 1000) })
    expect(rows.map((r) => r.n)).toEqual([240, 240, 240, 240, 40])
    expect(rows.every((r) => r.seriesId === 7 && r.seq === 3)).toBe(true)
    const sparse = Array.from({ length: 10 }, (_, i) => i * 3_600_000)
    const spans = chunkRows(1, 1, { ts: sparse, values: sparse.map(() => 1) })
    expect(spans.every((r) => r.endTs - r.startTs < CHUNK_SPAN_MS)).toBe(true)
    expect(spans.map((r) => r.n)).toEqual([2, 2, 2, 2, 2])
    expect(CHUNK_POINTS).toBe(240)
  })

  it('keeps noisy chunks under the in-page size by cutting them shorter', () => {
    const next = rng(7)
    const ts = Array.from({ length: 240 }, (_, i) => i * 1000)
    const rows = chunkRows(1, 1, { ts, values: ts.map(() => next() * 1e9) })
    expect(rows.length).toBeGreaterThan(1)
    expect(rows.every((r) => r.data.length <= 900)).toBe(true)
    expect(rows.reduce((n, r) => n + r.n, 0)).toBe(240)
  })

  it('merges by seq: a later source wins at the same ms, out-of-order arrivals land in order', () => {
    const src = (seq: number, chunk: boolean, pts: [number, number][]) => ({
      seq,
      chunk,
      points: (each: (t: number, v: number) => void) => {
        for (const [t, v] of pts) each(t, v)
      },
    })
    const run = mergeRun([
      src(5, false, [
        [30, 3.5],
        [10, 1.5],
      ]),
      src(2, true, [
        [10, 1],
        [20, 2],
        [30, 3],
      ]),
      src(9, false, [[5, 0.5]]),
    ])
    expect(run).toEqual({ ts: [5, 10, 20, 30], values: [0.5, 1.5, 2, 3.5] })
    // A chunk of seq s already holds batch s: the batch does not win over it (nor lose anything).
    expect(mergeRun([src(4, false, [[1, 1]]), src(4, true, [[1, 2]])])).toEqual({ ts: [1], values: [1] })
  })
})
