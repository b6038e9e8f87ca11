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

/**
 * The stored form (the `rollups.sketch` blob), all unsigned LEB128 varints: a head (positive entries
 * × 4 + 2 if it has zeros + 1 if it has negatives), the zero count if any, the positive entries, then
 * the negative ones (their number first). Entries go by index ascending, each (gap × 2 + 1 if its
 * count > 1) and then count − 2 when it is; the first gap is the index zigzagged. A sketch says where
 * it ends, so several stored back to back (SQL `group_concat(sketch, x'')`: `concatSketchesSql`) read
 * as their merge without a separator or a text form. Four values of a minute take ≈ 7 bytes (the
 * text form rows had before, `zero|i:c,…|i:c,…`, ≈ 26), an hour of spread latencies ≈ 2 bytes an entry.
 */
export function encodeSketch(s: Sketch): Uint8Array {
  const out: number[] = []
  putVarint(out, s.pos.size * 4 + (s.zero > 0 ? 2 : 0) + (s.neg.size > 0 ? 1 : 0))
  if (s.zero > 0) putVarint(out, s.zero)
  putEntries(out, s.pos)
  if (s.neg.size > 0) {
    putVarint(out, s.neg.size)
    putEntries(out, s.neg)
  }
  return Uint8Array.from(out)
}

const zig = (n: number) => (n >= 0 ? 2 * n : -2 * n - 1)

function putVarint(out: number[], n: number) {
  // Division, not shifts: a count may pass 2³¹.
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
}

function putEntries(out: number[], m: Map<number, number>) {
  let prev = 0
  let first = true
  for (const i of [...m.keys()].sort((a, b) => a - b)) {
    if (!Number.isInteger(i)) throw new Error(`sketch index ${i} is not an integer`) // values are finite (intake)
    const c = m.get(i)!
    putVarint(out, (first ? zig(i) : i - prev) * 2 + (c > 1 ? 1 : 0))
    if (c > 1) putVarint(out, c - 2)
    prev = i
    first = false
  }
}

/** What libSQL hands back for a blob: a Buffer/Uint8Array (libsql's kept statements) or an ArrayBuffer (the client). */
export type StoredSketch = Uint8Array | ArrayBuffer

const bytesOf = (b: StoredSketch) => (b instanceof Uint8Array ? b : new Uint8Array(b))

/**
 * Reads the stored sketches in `b` (one, or several back to back), calling `bin` for every entry;
 * returns their zero count. Reads the bytes in place: no object per sketch or entry (a fleet query
 * merges hundreds of thousands of them).
 */
function scanStored(b: Uint8Array, bin: Bin, from = 0, to = b.length): number {
  let at = from
  const varint = () => {
    let v = 0
    let scale = 1
    for (;;) {
      if (at >= to) throw new Error('truncated sketch')
      const byte = b[at++]!
      v += (byte & 0x7f) * scale
      if (byte < 0x80) return v
      scale *= 0x80
    }
  }
  let zero = 0
  const entries = (store: 0 | 1, count: number) => {
    let i = 0
    for (let k = 0; k < count; k++) {
      const v = varint()
      const gap = Math.floor(v / 2)
      i = k === 0 ? (gap % 2 === 0 ? gap / 2 : -(gap + 1) / 2) : i + gap
      bin(store, i, v % 2 === 1 ? varint() + 2 : 1)
    }
  }
  while (at < to) {
    const head = varint()
    if (head & 2) zero += varint()
    entries(0, Math.floor(head / 4))
    if (head & 1) entries(1, varint())
  }
  return zero
}

/**
 * Where the stored sketch starting at `at` in `b` ends (the start of the next one back to back): a
 * skip over its varints, nothing decoded. Throws on a truncated one.
 */
export function sketchEnd(b: Uint8Array, at: number): number {
  const n = b.length
  const varint = () => {
    let v = 0
    let scale = 1
    for (;;) {
      if (at >= n) throw new Error('truncated sketch')
      const byte = b[at++]!
      v += (byte & 0x7f) * scale
      if (byte < 0x80) return v
      scale *= 0x80
    }
  }
  const skip = (count: number) => {
    for (let k = 0; k < count; k++) if (varint() % 2 === 1) varint()
  }
  const head = varint()
  if (head & 2) varint()
  skip(Math.floor(head / 4))
  if (head & 1) skip(varint())
  return at
}

export function decodeSketch(stored: StoredSketch): Sketch {
  const s = emptySketch()
  mergeEncoded(s, stored)
  return s
}

/**
 * Adds stored sketches (one, or several back to back) to `target`: the same as
 * `mergeInto(target, decodeSketch(b))` for each, without the sketches in between.
 */
export function mergeEncoded(target: Sketch, stored: StoredSketch) {
  const zero = scanStored(bytesOf(stored), (store, i, c) => {
    const m = store === 0 ? target.pos : target.neg
    m.set(i, (m.get(i) ?? 0) + c)
    target.count += c
  })
  target.zero += zero
  target.count += zero
}

/**
 * SQL for the stored sketches of a group of `rollups` rows back to back, as one blob (what
 * `mergeEncoded` and a scratch's `addEncoded` read). SQLite's group_concat copies a blob's bytes as
 * they are, and the cast hands them back as a blob.
 */
export const concatSketchesSql = (column: string) => `cast(group_concat(${column}, x'') as blob)`

/**
 * The text form rows had before the binary one (migration 0028 leaves it for the start-up
 * conversion, legacy.ts): `zero|i:c,…|i:c,…`, positive store then negative.
 */
export function decodeSketchText(text: string): Sketch {
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

// The dense span of a scratch sketch: indices -4096..8191, magnitudes of about 1e-18 to 1e35.
const DENSE_OFFSET = 4096
const DENSE_SPAN = 12_288
const EMPTY: Uint8Array = new Uint8Array(0)

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
  // `addRun`'s reader: the bytes and the position in them, here so that one varint reader (made once
  // per scratch, not per call) serves every sketch; a fleet query reads hundreds of thousands.
  let bytes = EMPTY
  let at = 0
  const varint = (): number => {
    if (at >= bytes.length) throw new Error('truncated sketch')
    let byte = bytes[at++]!
    if (byte < 0x80) return byte
    let v = byte & 0x7f
    let scale = 0x80
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated sketch')
      byte = bytes[at++]!
      v += (byte & 0x7f) * scale
      if (byte < 0x80) return v
      scale *= 0x80
    }
  }
  // The entries of one store of one sketch, added straight into the dense array (`bin` only for a
  // spilled index): the hot loop of a fleet quantile.
  const addEntries = (store: 0 | 1, entries: number) => {
    const dense = stores[store]
    let i = 0
    let first = DENSE_SPAN
    let last = -1
    for (let e = 0; e < entries; e++) {
      const v = varint()
      const gap = (v - (v % 2)) / 2
      i = e === 0 ? (gap % 2 === 0 ? gap / 2 : -(gap + 1) / 2) : i + gap
      const c = v % 2 === 1 ? varint() + 2 : 1
      const k = i + DENSE_OFFSET
      if (k < 0 || k >= DENSE_SPAN) {
        bin(store, i, c)
        continue
      }
      dense[k]! += c
      count += c
      if (k < first) first = k
      last = k
    }
    if (first < lo[store]!) lo[store] = first
    if (last > hi[store]!) hi[store] = last
  }
  return {
    /**
     * The `n` stored sketches starting at byte `from` of `b` (back to back); returns where they end.
     * What `addEncoded` does, without knowing the end first: a fleet quantile reads a series' step
     * as "the next n sketches" and so never looks for where a sketch ends (`sketchEnd`) separately.
     */
    addRun(b: Uint8Array, from: number, n: number): number {
      bytes = b
      at = from
      for (let s = 0; s < n; s++) {
        const head = varint()
        if (head & 2) {
          const z = varint()
          zero += z
          count += z
        }
        addEntries(0, (head - (head % 4)) / 4)
        if (head & 1) addEntries(1, varint())
      }
      const end = at
      bytes = EMPTY
      return end
    },
    /** Stored sketches (one, or several back to back), or those in bytes [from, to) of them. */
    addEncoded(stored: StoredSketch, from?: number, to?: number) {
      const z = scanStored(bytesOf(stored), bin, from, to)
      zero += z
      count += z
    },
    addSketch(s: Sketch) {
      for (const [i, c] of s.pos) bin(0, i, c)
      for (const [i, c] of s.neg) bin(1, i, c)
      zero += s.zero
      count += s.zero
    },
    addValue(value: number, times = 1) {
      const magnitude = Math.abs(value)
      if (magnitude < MIN_VALUE) {
        zero += times
        count += times
      } else bin(value > 0 ? 0 : 1, indexOf(magnitude), times)
    },
    count: () => count,
    /**
     * The stored form of what was added: the bytes `encodeSketch` gives for the same sketch merged into
     * a `Sketch`, read off the dense arrays in index order (no Map, no sort).
     */
    encode(): Uint8Array {
      if (spill) return encodeSketch(asSketch())
      const out: number[] = []
      const entries = (store: 0 | 1) => {
        const dense = stores[store]
        let prev = 0
        let first = true
        for (let k = lo[store]!; k <= hi[store]!; k++) {
          const c = dense[k]!
          if (!c) continue
          const i = k - DENSE_OFFSET
          putVarint(out, (first ? zig(i) : i - prev) * 2 + (c > 1 ? 1 : 0))
          if (c > 1) putVarint(out, c - 2)
          prev = i
          first = false
        }
      }
      const size = (store: 0 | 1) => {
        let n = 0
        for (let k = lo[store]!; k <= hi[store]!; k++) if (stores[store][k]) n++
        return n
      }
      const negatives = size(1)
      putVarint(out, size(0) * 4 + (zero > 0 ? 2 : 0) + (negatives > 0 ? 1 : 0))
      if (zero > 0) putVarint(out, zero)
      entries(0)
      if (negatives > 0) {
        putVarint(out, negatives)
        entries(1)
      }
      return Uint8Array.from(out)
    },
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
