import { describe, expect, it } from 'vitest'
import {
  addValue,
  decodeSketch,
  emptySketch,
  encodeSketch,
  mergeEncoded,
  mergeInto,
  quantile,
  SKETCH_LIST_SEPARATOR,
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

const QS = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]

describe('stored sketches read in place', () => {
  it('mergeEncoded gives what decodeSketch + mergeInto gives, one text or a joined list', () => {
    const random = rng(7)
    for (let round = 0; round < 300; round++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomSketch(random))
      const plain = randomSketch(random)
      const fast = decodeSketch(encodeSketch(plain))
      for (const p of parts) mergeInto(plain, decodeSketch(encodeSketch(p)))
      mergeEncoded(fast, parts.map(encodeSketch).join(SKETCH_LIST_SEPARATOR))
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
    scratch.addEncoded('0||')
    expect(scratch.quantile(0.5)).toBeNull()
  })

  it('a text it cannot read in place (a count in exponent form, a broken pair) falls back to decodeSketch, leaving nothing half-added', () => {
    for (const odd of ['2|5:1e21,7:3|', '1|4:2.5|-3:1', '0|4:1,x|', '3']) {
      const base = decodeSketch('1|5:2,9:1|2:4')
      const plain = decodeSketch(encodeSketch(base))
      mergeInto(plain, decodeSketch(odd))
      mergeEncoded(base, odd)
      expect(contentOf(base)).toEqual(contentOf(plain))

      // A pair that is no number at all is garbage either way (NaN); the others read as decodeSketch reads them.
      if (odd.includes('x')) continue
      const scratch = sketchScratch()
      scratch.addEncoded(`1|5:2,9:1|2:4${SKETCH_LIST_SEPARATOR}${odd}`)
      for (const q of QS) expect(scratch.quantile(q)).toBe(quantile(plain, q))
    }
  })
})
