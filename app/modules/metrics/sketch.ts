/**
 * A mergeable quantile sketch with relative-error guarantees (the DDSketch idea): values fall into
 * logarithmic buckets of width γ = (1+α)/(1−α), so any quantile is answered within α of the true
 * value, and two sketches merge by adding bucket counts — which lets 1m rollups build 1h and 1d.
 */
const ALPHA = 0.005 // half of the 1% the product promises, leaving room for float error
const GAMMA = (1 + ALPHA) / (1 - ALPHA)
const LOG_GAMMA = Math.log(GAMMA)
const MIN_VALUE = 1e-9 // magnitudes below this count as zero

export type Sketch = { pos: Map<number, number>; neg: Map<number, number>; zero: number; count: number }

export const emptySketch = (): Sketch => ({ pos: new Map(), neg: new Map(), zero: 0, count: 0 })

const indexOf = (magnitude: number) => Math.ceil(Math.log(magnitude) / LOG_GAMMA)
const valueOf = (index: number) => (2 * GAMMA ** index) / (GAMMA + 1)

export function addValue(s: Sketch, value: number, times = 1) {
  s.count += times
  const magnitude = Math.abs(value)
  if (magnitude < MIN_VALUE) {
    s.zero += times
    return
  }
  const store = value > 0 ? s.pos : s.neg
  const i = indexOf(magnitude)
  store.set(i, (store.get(i) ?? 0) + times)
}

export function mergeInto(target: Sketch, other: Sketch) {
  for (const [i, c] of other.pos) target.pos.set(i, (target.pos.get(i) ?? 0) + c)
  for (const [i, c] of other.neg) target.neg.set(i, (target.neg.get(i) ?? 0) + c)
  target.zero += other.zero
  target.count += other.count
}

/** The q-quantile (0 ≤ q ≤ 1) of everything added, or null for an empty sketch. */
export function quantile(s: Sketch, q: number): number | null {
  if (s.count === 0) return null
  const rank = Math.max(0, Math.min(1, q)) * (s.count - 1)
  let seen = 0
  // Most negative first: the largest magnitudes of the negative store.
  for (const i of [...s.neg.keys()].sort((a, b) => b - a)) {
    seen += s.neg.get(i)!
    if (seen > rank) return -valueOf(i)
  }
  seen += s.zero
  if (seen > rank) return 0
  const keys = [...s.pos.keys()].sort((a, b) => a - b)
  for (const i of keys) {
    seen += s.pos.get(i)!
    if (seen > rank) return valueOf(i)
  }
  return valueOf(keys.at(-1)!)
}

/** Compact text form for the database: `zero|i:c,i:c|i:c` (positive store, then negative). */
export function encodeSketch(s: Sketch): string {
  const enc = (m: Map<number, number>) => [...m].map(([i, c]) => `${i}:${c}`).join(',')
  return `${s.zero}|${enc(s.pos)}|${enc(s.neg)}`
}

export function decodeSketch(text: string): Sketch {
  const [zero = '0', pos = '', neg = ''] = text.split('|')
  const dec = (part: string) => {
    const m = new Map<number, number>()
    if (part)
      for (const pair of part.split(',')) {
        const [i, c] = pair.split(':')
        m.set(Number(i), Number(c))
      }
    return m
  }
  const s: Sketch = { pos: dec(pos), neg: dec(neg), zero: Number(zero), count: 0 }
  s.count = s.zero + [...s.pos.values(), ...s.neg.values()].reduce((a, b) => a + b, 0)
  return s
}

/**
 * The sketch of every value times `factor` (> 0), for a read that changes units (names.ts): each
 * bucket's count lands in the bucket of its scaled representative value, which can add up to one
 * bucket's width (α) to the error.
 */
export function scaleSketch(s: Sketch, factor: number): Sketch {
  if (factor === 1) return s
  const out = emptySketch()
  for (const [i, c] of s.pos) addValue(out, valueOf(i) * factor, c)
  for (const [i, c] of s.neg) addValue(out, -valueOf(i) * factor, c)
  out.zero += s.zero
  out.count += s.zero
  return out
}
