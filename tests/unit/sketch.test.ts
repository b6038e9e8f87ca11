import { describe, expect, it } from 'vitest'
import {
  addValue,
  decodeSketch,
  emptySketch,
  encodeSketch,
  mergeInto,
  quantile,
} from '../../app/modules/metrics/sketch.ts'

// A seeded generator, so a failure can be replayed.
function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const exact = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))]!

describe('quantile sketch', () => {
  const distributions: [string, (r: () => number) => number][] = [
    ['uniform latency 1..5000 ms', (r) => 1 + r() * 4999],
    [
      'log-normal latency',
      (r) => Math.exp(4 + 1.5 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())),
    ],
    ['costs with zeros and negatives', (r) => (r() < 0.1 ? 0 : (r() - 0.3) * 100)],
  ]

  for (const [name, draw] of distributions) {
    it(`p50/p95/p99 within 1% of exact: ${name}`, () => {
      const r = rng(42)
      const values = Array.from({ length: 20_000 }, () => draw(r))
      const s = emptySketch()
      for (const v of values) addValue(s, v)
      const sorted = [...values].sort((a, b) => a - b)
      for (const q of [0.5, 0.95, 0.99]) {
        const want = exact(sorted, q)
        const got = quantile(s, q)!
        expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * 0.01 + 1e-9)
      }
    })
  }

  it('merging sketches equals sketching everything at once', () => {
    const r = rng(7)
    const values = Array.from({ length: 5000 }, () => r() * 1000)
    const whole = emptySketch()
    const parts = [emptySketch(), emptySketch(), emptySketch()]
    values.forEach((v, i) => {
      addValue(whole, v)
      addValue(parts[i % 3]!, v)
    })
    const merged = emptySketch()
    for (const p of parts) mergeInto(merged, p)
    for (const q of [0.01, 0.5, 0.9, 0.999]) expect(quantile(merged, q)).toBe(quantile(whole, q))
    expect(merged.count).toBe(5000)
  })

  it('survives encoding', () => {
    const s = emptySketch()
    for (const v of [0, -3, 2.5, 2.5, 1e6]) addValue(s, v)
    const back = decodeSketch(encodeSketch(s))
    expect(back.count).toBe(5)
    for (const q of [0, 0.25, 0.5, 1]) expect(quantile(back, q)).toBe(quantile(s, q))
  })

  it('is empty-safe', () => {
    expect(quantile(emptySketch(), 0.5)).toBeNull()
  })
})
