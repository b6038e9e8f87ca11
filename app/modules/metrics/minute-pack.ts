/*
 * One series' hour of 1-minute rollups as one blob (ADR 0030): a row a minute cost ≈ 49 B of pages on
 * the fleet shape, of which the key, the record header, the cell and the page's slack were ≈ 32 B and the
 * sketch ≈ 6.5. Packed, that overhead is paid once an hour, and the numbers are coded column by column
 * as raw chunks code points (chunk-codec.ts):
 *
 *   varint n (minutes) ‖ varint b (bytes of the bit stream) ‖ bit stream ‖ the n sketches back to back
 *
 * The bit stream holds, for the n minutes in bucket order, each column in turn: minute numbers (0 the
 * one after the previous, else 1 and six bits), counts (0 the previous count, else 1, six bits of length
 * and the count), the last point's ms after the minute (0 the previous, else 1 and sixteen bits), then
 * sums, minimums and maximums as Gorilla XOR streams, and `last` XORed with its own minute's maximum (one
 * bit when equal). Values round-trip bit for bit. The sketches are the stored form of sketch.ts, which
 * says where each ends, so a range of minutes' sketches is one byte range of the blob: a quantile read
 * reads the minute numbers and skips to it, decoding no number.
 */
import { bitReader, bitWriter, type BitReader, xorStream } from './chunk-codec.ts'
import { sketchEnd } from './sketch.ts'

const MINUTE = 60_000
export const HOUR = 3_600_000

/** One minute's rollup as readers see it (`last` and `lastTs` as they were: rollup.ts `Summary`). */
export type Minute = {
  bucket: number
  count: number
  sum: number
  min: number
  max: number
  last: number
  lastTs: number
  sketch: Uint8Array
}

export const hourOf = (ms: number) => ms - (((ms % HOUR) + HOUR) % HOUR)

function putVarint(out: number[], n: number) {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
}

function getVarint(b: Uint8Array, at: { i: number }) {
  let v = 0
  let scale = 1
  for (;;) {
    const byte = b[at.i++]
    if (byte === undefined) throw new Error('truncated minute pack')
    v += (byte & 0x7f) * scale
    if (byte < 0x80) return v
    scale *= 0x80
  }
}

const bitLength = (n: number) => (n === 0 ? 0 : Math.floor(Math.log2(n)) + 1)

/** Packs minutes of one hour (sorted by bucket, each bucket in [hour, hour + 1 h), one per bucket). */
export function encodePack(hour: number, minutes: readonly Minute[]): Uint8Array {
  const n = minutes.length
  // Worst case a minute: 7 + 60 + 17 + 4 × 77 bits.
  const w = bitWriter(16 + n * 50)
  let prev = -1
  for (const m of minutes) {
    const k = (m.bucket - hour) / MINUTE
    if (!Number.isInteger(k) || k < 0 || k > 59 || k <= prev)
      throw new Error(`minute ${m.bucket} is not in hour ${hour}`)
    if (k === prev + 1) w.write(0, 1)
    else {
      w.write(1, 1)
      w.write(k, 6)
    }
    prev = k
  }
  let count = 0
  for (const m of minutes) {
    if (m.count === count) w.write(0, 1)
    else {
      const len = bitLength(m.count)
      w.write(1, 1)
      w.write(len, 6)
      w.write64(Math.floor(m.count / 0x1_0000_0000) >>> 0, m.count >>> 0, len)
      count = m.count
    }
  }
  let offset = -1
  for (const m of minutes) {
    const o = m.lastTs - m.bucket
    if (o === offset) w.write(0, 1)
    else {
      if (!Number.isInteger(o) || o < 0 || o >= MINUTE) throw new Error(`last point ${m.lastTs} is outside its minute`)
      w.write(1, 1)
      w.write(o, 16)
      offset = o
    }
  }
  for (const field of ['sum', 'min', 'max'] as const) {
    const s = xorStream()
    for (const m of minutes) s.put(w, m[field])
  }
  const last = xorStream()
  for (const m of minutes) {
    last.ref(m.max)
    last.put(w, m.last)
  }
  const bits = w.bytes()
  const head: number[] = []
  putVarint(head, n)
  putVarint(head, bits.length)
  let size = head.length + bits.length
  for (const m of minutes) size += m.sketch.length
  const out = new Uint8Array(size)
  out.set(head, 0)
  out.set(bits, head.length)
  let at = head.length + bits.length
  for (const m of minutes) {
    out.set(m.sketch, at)
    at += m.sketch.length
  }
  return out
}

/** A pack's minutes without their sketches: buckets, where the sketches start, the reader past the minute numbers. */
export type PackBuckets = { buckets: number[]; sketches: number; reader: BitReader; n: number }

/**
 * Reads a pack's minute numbers and where its sketches start, not where each sketch starts: a quantile
 * read takes a whole hour's sketches as the byte range from `sketches` to the pack's end, and looks for
 * boundaries (`skipSketches`) only in the hours its window cuts. Finding every minute's boundary cost a
 * walk over every sketch (as much as merging them), for the 6 hour fleet read 360,000 of them.
 */
export function packBuckets(hour: number, b: Uint8Array): PackBuckets {
  const at = { i: 0 }
  const n = getVarint(b, at)
  const bitBytes = getVarint(b, at)
  const r = bitReader(b, at.i)
  const buckets: number[] = new Array(n)
  let k = -1
  for (let i = 0; i < n; i++) {
    k = r.read(1) === 0 ? k + 1 : r.read(6)
    buckets[i] = hour + k * MINUTE
  }
  return { buckets, sketches: at.i + bitBytes, reader: r, n }
}

/** Where the sketch `count` sketches after the one starting at byte `at` of `b` starts. */
export function skipSketches(b: Uint8Array, at: number, count: number) {
  for (let i = 0; i < count; i++) at = sketchEnd(b, at)
  return at
}

/** A pack's layout: its minutes' buckets and where each one's sketch starts (`sketchAt[n]` its end). */
export type PackIndex = { buckets: number[]; sketchAt: number[]; reader: BitReader; n: number }

/** Reads the minute numbers and every sketch's boundaries: what a read of whole minutes needs. */
export function indexPack(hour: number, b: Uint8Array): PackIndex {
  const { buckets, sketches, reader, n } = packBuckets(hour, b)
  const sketchAt: number[] = new Array(n + 1)
  let s = sketches
  for (let i = 0; i < n; i++) {
    sketchAt[i] = s
    s = sketchEnd(b, s)
  }
  sketchAt[n] = s
  return { buckets, sketchAt, reader, n }
}

/** Every minute of a pack, in bucket order; sketches are views into `b`. */
export function decodePack(hour: number, b: Uint8Array): Minute[] {
  const { buckets, sketchAt, reader: r, n } = indexPack(hour, b)
  const out: Minute[] = new Array(n)
  let count = 0
  for (let i = 0; i < n; i++) {
    if (r.read(1) === 1) {
      const len = r.read(6)
      count = len > 32 ? r.read(len - 32) * 0x1_0000_0000 + r.read(32) : r.read(len)
    }
    out[i] = {
      bucket: buckets[i]!,
      count,
      sum: 0,
      min: 0,
      max: 0,
      last: 0,
      lastTs: 0,
      sketch: b.subarray(sketchAt[i], sketchAt[i + 1]),
    }
  }
  let offset = 0
  for (const m of out) {
    if (r.read(1) === 1) offset = r.read(16)
    m.lastTs = m.bucket + offset
  }
  for (const field of ['sum', 'min', 'max'] as const) {
    const s = xorStream()
    for (const m of out) m[field] = s.get(r)
  }
  const last = xorStream()
  for (const m of out) {
    last.ref(m.max)
    m.last = last.get(r)
  }
  return out
}

/** `current`'s minutes with `fresh` ones replacing those of the same bucket (both sorted by bucket). */
export function mergeMinutes(current: readonly Minute[], fresh: readonly Minute[]): Minute[] {
  if (!current.length) return [...fresh]
  const byBucket = new Map(current.map((m) => [m.bucket, m]))
  for (const m of fresh) byBucket.set(m.bucket, m)
  return [...byBucket.values()].sort((a, b) => a.bucket - b.bucket)
}
