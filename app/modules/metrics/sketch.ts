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

/** One bucket of a sketch being read: `store` 0 positive, 1 negative. */
type Bin = (store: 0 | 1, index: number, count: number) => void

const CH_0 = 48
const CH_9 = 57
const CH_MINUS = 45
const CH_COLON = 58
const CH_COMMA = 44
const CH_BAR = 124

/**
 * Calls `bin(store, index, count)` for every bucket of a stored sketch and returns its zero count,
 * reading the text in place (no split, no Map per row: a fleet query reads hundreds of thousands of
 * them). Returns null for a text this reader does not know (a count in exponent form, say), which
 * the caller then decodes with `decodeSketch`. Only this file knows the stored form.
 */
function scanEncoded(text: string, bin: Bin, from: number, n: number): number | null {
  let at = from
  // An integer (optionally negative) from `at`, or NaN when the next character is not one.
  const int = () => {
    let neg = false
    if (text.charCodeAt(at) === CH_MINUS) {
      neg = true
      at++
    }
    const start = at
    let v = 0
    for (let c = text.charCodeAt(at); c >= CH_0 && c <= CH_9; c = text.charCodeAt(++at)) v = v * 10 + (c - CH_0)
    return at === start ? Number.NaN : neg ? -v : v
  }
  const zero = int()
  if (Number.isNaN(zero) || text.charCodeAt(at) !== CH_BAR) return at === n && !Number.isNaN(zero) ? zero : null
  at++
  for (const store of [0, 1] as const) {
    while (at < n && text.charCodeAt(at) !== CH_BAR) {
      const index = int()
      if (Number.isNaN(index) || text.charCodeAt(at++) !== CH_COLON) return null
      const count = int()
      if (Number.isNaN(count)) return null
      const next = text.charCodeAt(at)
      if (at < n && next !== CH_COMMA && next !== CH_BAR) return null
      if (next === CH_COMMA) at++
      bin(store, index, count)
    }
    if (store === 0) {
      if (at >= n) break
      at++ // the `|` before the negative store
    }
  }
  return at === n ? zero : null
}

/**
 * Adds a stored sketch through `bin`, or, for a text `scanEncoded` does not read, takes back what it
 * added (the same scan, negated) and adds `decodeSketch`'s reading instead: the result is always
 * what decoding and merging gives.
 */
function addOne(text: string, bin: Bin, from: number, to: number): number {
  const zero = scanEncoded(text, bin, from, to)
  if (zero !== null) return zero
  scanEncoded(text, (store, i, c) => bin(store, i, -c), from, to)
  const s = decodeSketch(text.slice(from, to))
  for (const [i, c] of s.pos) bin(0, i, c)
  for (const [i, c] of s.neg) bin(1, i, c)
  return s.zero
}

/**
 * Stored sketches joined by this in one text (SQL `group_concat(sketch, ';')`), which `mergeEncoded`
 * and a scratch's `addEncoded` read as their merge: a read merges a step's rows in SQL into one text.
 */
export const SKETCH_LIST_SEPARATOR = ';'

/** Adds every sketch of a stored text (one, or several joined by `SKETCH_LIST_SEPARATOR`); returns the zero count. */
function addEncoded(text: string, bin: Bin): number {
  let zero = 0
  let from = 0
  for (;;) {
    const end = text.indexOf(SKETCH_LIST_SEPARATOR, from)
    zero += addOne(text, bin, from, end === -1 ? text.length : end)
    if (end === -1) return zero
    from = end + 1
  }
}

/**
 * Adds a sketch in its stored form (or several joined by `SKETCH_LIST_SEPARATOR`) to `target`: the
 * same as `mergeInto(target, decodeSketch(text))` for each, without the sketches in between.
 */
export function mergeEncoded(target: Sketch, text: string) {
  const zero = addEncoded(text, (store, i, c) => {
    const m = store === 0 ? target.pos : target.neg
    const v = (m.get(i) ?? 0) + c
    if (v === 0)
      m.delete(i) // only when a failed scan takes back what it added
    else m.set(i, v)
    target.count += c
  })
  target.zero += zero
  target.count += zero
}

// The dense span of a scratch sketch: indices -4096..8191, magnitudes of about 1e-18 to 1e35.
const DENSE_OFFSET = 4096
const DENSE_SPAN = 12_288

/**
 * One sketch merged in two reusable dense arrays instead of Maps: a fleet query merges thousands of
 * stored sketches per step of a group, then asks one quantile and starts again (`reset` clears only
 * the span it touched). Answers exactly as `quantile` on the same sketches merged into a `Sketch`
 * (the same buckets, counted and walked in the same order); an index outside the dense span (a
 * magnitude beyond 1e35) moves the whole sketch to the Map form.
 */
export function sketchScratch() {
  const stores = [new Float64Array(DENSE_SPAN), new Float64Array(DENSE_SPAN)] as const
  const lo = [DENSE_SPAN, DENSE_SPAN]
  const hi = [-1, -1]
  let zero = 0
  let count = 0
  let spill: Sketch | null = null
  const bin: Bin = (store, index, c) => {
    const k = index + DENSE_OFFSET
    count += c
    if (k < 0 || k >= DENSE_SPAN) {
      spill ??= emptySketch()
      const m = store === 0 ? spill.pos : spill.neg
      const v = (m.get(index) ?? 0) + c
      if (v === 0) m.delete(index)
      else m.set(index, v)
      return
    }
    stores[store][k]! += c
    if (k < lo[store]!) lo[store] = k
    if (k > hi[store]!) hi[store] = k
  }
  /** The scratch as a `Sketch` (the rare case of a spilled index). */
  const asSketch = (): Sketch => {
    const s = spill ?? emptySketch()
    for (const store of [0, 1] as const)
      for (let k = lo[store]!; k <= hi[store]!; k++) {
        const c = stores[store][k]!
        if (c) (store === 0 ? s.pos : s.neg).set(k - DENSE_OFFSET, c)
      }
    s.zero = zero
    s.count = count
    return s
  }
  return {
    addEncoded(text: string) {
      const z = addEncoded(text, bin)
      zero += z
      count += z
    },
    addSketch(s: Sketch) {
      for (const [i, c] of s.pos) bin(0, i, c)
      for (const [i, c] of s.neg) bin(1, i, c)
      zero += s.zero
      count += s.zero
    },
    addValue(value: number) {
      const magnitude = Math.abs(value)
      if (magnitude < MIN_VALUE) {
        zero++
        count++
      } else bin(value > 0 ? 0 : 1, indexOf(magnitude), 1)
    },
    count: () => count,
    quantile(q: number): number | null {
      if (count === 0) return null
      if (spill) return quantile(asSketch(), q)
      const rank = Math.max(0, Math.min(1, q)) * (count - 1)
      let seen = 0
      const [pos, neg] = stores
      for (let k = hi[1]!; k >= lo[1]!; k--) {
        const c = neg[k]!
        if (!c) continue
        seen += c
        if (seen > rank) return -valueOf(k - DENSE_OFFSET)
      }
      seen += zero
      if (seen > rank) return 0
      let last = -1
      for (let k = lo[0]!; k <= hi[0]!; k++) {
        const c = pos[k]!
        if (!c) continue
        seen += c
        last = k
        if (seen > rank) return valueOf(k - DENSE_OFFSET)
      }
      return valueOf(last - DENSE_OFFSET)
    },
    reset() {
      for (const store of [0, 1] as const) {
        if (hi[store]! >= 0) stores[store].fill(0, lo[store], hi[store]! + 1)
        lo[store] = DENSE_SPAN
        hi[store] = -1
      }
      zero = 0
      count = 0
      spill = null
    },
  }
}
export type SketchScratch = ReturnType<typeof sketchScratch>
