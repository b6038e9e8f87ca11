import { describe, expect, it } from 'vitest'
import {
  addValue,
  decodeSketch,
  emptySketch,
  encodeSketch,
  mergeEncoded,
  mergeInto,
  quantile,
  sketchEnd,
  type Sketch,
  sketchScratch,
} from '../../app/modules/metrics/sketch.ts'

// Deterministic (mulberry32), so a failure can be replayed.
function rng(seed: number) {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A sketch of random values: latencies, negatives, zeros, tiny and huge magnitudes (beyond the dense span). */
function randomSketch(random: () => number): Sketch {
  const s = emptySketch()
  const n = Math.floor(random() * 40)
  for (let i = 0; i < n; i++) {
    const kind = random()
    const v =
      kind < 0.6
        ? Math.round(50 + 2000 * random())
        : kind < 0.75
          ? -random() * 100
          : kind < 0.85
            ? 0
            : kind < 0.95
              ? random() * 1e-6
              : (random() < 0.5 ? -1 : 1) * 10 ** (30 + random() * 12)
    addValue(s, v, 1 + Math.floor(random() * 3))
  }
  return s
}

/** A sketch's content, independent of Map insertion order. */
const contentOf = (s: Sketch) => ({
  zero: s.zero,
  count: s.count,
  pos: [...s.pos].sort(([a], [b]) => a - b),
  neg: [...s.neg].sort(([a], [b]) => a - b),
})

/** Stored sketches back to back, as SQL's group_concat(sketch, x'') hands them over. */
function concat(parts: Uint8Array[]) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const QS = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]

describe('stored sketches read in place', () => {
  it('mergeEncoded gives what decodeSketch + mergeInto gives, one sketch or several back to back', () => {
    const random = rng(7)
    for (let round = 0; round < 300; round++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomSketch(random))
      const plain = randomSketch(random)
      const fast = decodeSketch(encodeSketch(plain))
      for (const p of parts) mergeInto(plain, decodeSketch(encodeSketch(p)))
      mergeEncoded(fast, concat(parts.map(encodeSketch)))
      expect(contentOf(fast)).toEqual(contentOf(plain))
    }
  })

  it('the dense scratch answers every quantile as the Map sketch does, and starts clean after reset', () => {
    const random = rng(11)
    const scratch = sketchScratch()
    for (let round = 0; round < 300; round++) {
      scratch.reset()
      const plain = emptySketch()
      for (let i = Math.floor(random() * 6); i >= 0; i--) {
        const s = randomSketch(random)
        mergeInto(plain, s)
        if (random() < 0.5) scratch.addEncoded(encodeSketch(s))
        else scratch.addSketch(s)
      }
      for (let i = Math.floor(random() * 5); i > 0; i--) {
        const v = random() < 0.2 ? 0 : (random() - 0.3) * 5000
        addValue(plain, v)
        scratch.addValue(v)
      }
      expect(scratch.count()).toBe(plain.count)
      for (const q of QS) expect(scratch.quantile(q)).toBe(quantile(plain, q))
    }
  })

  it('an empty scratch has no quantile', () => {
    const scratch = sketchScratch()
    expect(scratch.quantile(0.5)).toBeNull()
    scratch.addEncoded(encodeSketch(emptySketch()))
    scratch.addEncoded(new Uint8Array(0))
    expect(scratch.quantile(0.5)).toBeNull()
  })

  it('reads an ArrayBuffer as a Uint8Array; a truncated blob throws rather than reading garbage', () => {
    const s = randomSketch(rng(5))
    addValue(s, 1234.5, 300) // a count past one varint byte
    const bytes = encodeSketch(s)
    expect(contentOf(decodeSketch(bytes.slice().buffer))).toEqual(contentOf(s))
    expect(() => decodeSketch(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/)
    expect(() => sketchScratch().addEncoded(concat([bytes, bytes.subarray(0, 2)]))).toThrow(/truncated/)
  })

  it('sketchEnd finds where each of several back to back ends', () => {
    const random = rng(17)
    for (let round = 0; round < 100; round++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 5) }, () => encodeSketch(randomSketch(random)))
      const all = concat(parts)
      let at = 0
      for (const p of parts) {
        expect(sketchEnd(all, at)).toBe(at + p.length)
        at += p.length
      }
    }
    expect(() => sketchEnd(encodeSketch(randomSketch(rng(3))).subarray(0, 0), 0)).toThrow(/truncated/)
  })

  it('a scratch reads a byte range of several back to back', () => {
    const a = emptySketch()
    const b = emptySketch()
    addValue(a, 5, 3)
    addValue(b, 500, 2)
    const both = concat([encodeSketch(a), encodeSketch(b), encodeSketch(a)])
    const scratch = sketchScratch()
    scratch.addEncoded(both, encodeSketch(a).length, encodeSketch(a).length + encodeSketch(b).length)
    expect(scratch.count()).toBe(2)
    expect(scratch.quantile(0.5)).toBe(quantile(b, 0.5))
  })

  it('addRun reads the next n sketches of a blob, says where they end, and merges as the Map sketch does', () => {
    const random = rng(29)
    const scratch = sketchScratch()
    for (let round = 0; round < 200; round++) {
      // A series' blob cut into runs, as a fleet quantile reads it: each run merged on its own.
      const runs = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomSketch(random)),
      )
      const blob = concat(runs.flat().map(encodeSketch))
      let at = 0
      for (const run of runs) {
        const plain = emptySketch()
        for (const s of run) mergeInto(plain, s)
        scratch.reset()
        const end = scratch.addRun(blob, at, run.length)
        expect(end).toBe(at + run.reduce((n, s) => n + encodeSketch(s).length, 0))
        expect(scratch.count()).toBe(plain.count)
        for (const q of QS) expect(scratch.quantile(q)).toBe(quantile(plain, q))
        at = end
      }
      expect(at).toBe(blob.length)
    }
    const big = emptySketch()
    addValue(big, 1e300, 2 ** 33 + 5) // beyond the dense span, and a count past 2^31
    addValue(big, 0, 2 ** 31)
    addValue(big, -3, 7)
    const bytes = encodeSketch(big)
    scratch.reset()
    expect(scratch.addRun(concat([bytes, bytes]), bytes.length, 1)).toBe(2 * bytes.length)
    expect(scratch.count()).toBe(big.count)
    for (const q of QS) expect(scratch.quantile(q)).toBe(quantile(big, q))
    expect(() => sketchScratch().addRun(concat([bytes, bytes.subarray(0, 2)]), 0, 2)).toThrow(/truncated/)
    expect(() => sketchScratch().addRun(bytes, 0, 2)).toThrow(/truncated/)
  })

  it('counts past 2^31 and indices far from zero round trip', () => {
    const s = emptySketch()
    addValue(s, 1e300, 2 ** 33 + 5)
    addValue(s, -1e-8, 3)
    addValue(s, 0, 2 ** 31)
    expect(contentOf(decodeSketch(encodeSketch(s)))).toEqual(contentOf(s))
  })
})
