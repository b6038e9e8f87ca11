/*
 * The encoding of a chunk of one series' raw points (Gorilla, Pelkonen et al. 2015, as Prometheus
 * stores its chunks): timestamps as delta-of-delta in a few prefix-coded widths, values as the XOR
 * with the previous value's IEEE-754 bits, written as only its meaningful bits. A fleet scraped
 * every 15 s costs one bit a timestamp and a few bits a value. Any bit pattern round-trips exactly
 * (NaN payloads such as Prometheus' stale marker, ±Inf, -0): values are handled as bits, never as
 * numbers. Timestamps are integer ms within ±2^53 (what a JS number holds exactly), strictly
 * increasing inside a chunk (one point per series and ms).
 */

const TWO32 = 0x1_0000_0000

/** Appends bits to a byte array sized for the worst case up front, most significant bit first. */
export function bitWriter(capacity: number) {
  const buf = new Uint8Array(capacity)
  let bit = 0 // bits written
  /** Writes the low `n` (0…32) bits of `value`. */
  const write = (value: number, n: number) => {
    if (n === 0) return
    let left = n
    while (left > 0) {
      const free = 8 - (bit & 7)
      const take = Math.min(free, left)
      // The next `take` bits of value, from its top (bit left-1) down.
      const part = (left > 31 ? Math.floor(value / 2 ** (left - take)) : value >>> (left - take)) & ((1 << take) - 1)
      buf[bit >>> 3]! |= part << (free - take)
      bit += take
      left -= take
    }
  }
  return {
    write,
    /** Writes the low `n` (0…64) bits of the 64-bit value hi:lo. */
    write64(hi: number, lo: number, n: number) {
      if (n > 32) {
        write(hi >>> 0, n - 32)
        write(lo >>> 0, 32)
      } else write(lo >>> 0, n)
    },
    bytes: () => buf.slice(0, (bit + 7) >>> 3),
    bit: () => bit,
  }
}

export function bitReader(buf: Uint8Array, start = 0) {
  let bit = start * 8
  const read = (n: number) => {
    let out = 0
    let left = n
    while (left > 0) {
      const byte = buf[bit >>> 3]
      if (byte === undefined) throw new Error('chunk ends early')
      const avail = 8 - (bit & 7)
      const take = Math.min(avail, left)
      const part = (byte >>> (avail - take)) & ((1 << take) - 1)
      out = out * (1 << take) + part
      bit += take
      left -= take
    }
    return out
  }
  return { read, bit: () => bit }
}

// Float bits are read and written through one shared 8-byte view (no allocation a point).
const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const HI = LITTLE ? 1 : 0
const LO = LITTLE ? 0 : 1

const clz64 = (hi: number, lo: number) => (hi ? Math.clz32(hi) : 32 + Math.clz32(lo))
const ctz32 = (x: number) => (x ? 31 - Math.clz32(x & -x) : 32)
const ctz64 = (hi: number, lo: number) => (lo ? ctz32(lo) : 32 + ctz32(hi))

/** Timestamp delta-of-delta classes: a prefix of 1s ended by a 0, then a signed value of this many bits. */
const DOD_BITS = [7, 9, 12, 20] as const

/**
 * Encodes points sorted by strictly increasing ts. The first timestamp is stored too, so a chunk
 * is decodable alone; the caller keeps it beside the chunk (its key) for range seeks.
 */
export function encodeChunk(ts: ArrayLike<number>, values: ArrayLike<number>): Uint8Array {
  return encodePrefix(ts, values, 0, ts.length, Infinity).data
}

// At most 5 + 64 bits of timestamp and 2 + 5 + 6 + 64 of value a point.
const MAX_POINT_BYTES = 19

/**
 * Encodes points start… of the arrays, at most `maxPoints`, stopping before the encoding could
 * pass `maxBytes` (at least one point). One pass: a chunk is never encoded twice to fit.
 */
export function encodePrefix(
  ts: ArrayLike<number>,
  values: ArrayLike<number>,
  start: number,
  maxPoints: number,
  maxBytes: number,
) {
  const n = Math.min(maxPoints, ts.length - start)
  const w = bitWriter(16 + n * MAX_POINT_BYTES)
  if (n <= 0) return { data: w.bytes(), n: 0 }
  const budget = (maxBytes - MAX_POINT_BYTES) * 8
  // First point: 64-bit timestamp (two's complement, as hi:lo) and the value's 64 bits.
  const t0 = ts[start]!
  w.write64(Math.floor(t0 / TWO32) >>> 0, t0 >>> 0, 64)
  const xor = xorStream()
  xor.ref(values[start]!)
  w.write64(u32[HI]!, u32[LO]!, 64)
  let prevTs = t0
  let prevDelta = 0
  let i = 1
  for (; i < n; i++) {
    if (w.bit() > budget) break
    const tNow = ts[start + i]!
    const delta = tNow - prevTs
    const dod = delta - prevDelta
    prevTs = tNow
    prevDelta = delta
    if (dod === 0) w.write(0, 1)
    else {
      let done = false
      for (let c = 0; c < DOD_BITS.length; c++) {
        const bits = DOD_BITS[c]!
        if (dod >= -(2 ** (bits - 1)) && dod < 2 ** (bits - 1)) {
          w.write((2 ** (c + 1) - 1) * 2, c + 2) // c+1 ones and a zero
          w.write(dod < 0 ? dod + 2 ** bits : dod, bits)
          done = true
          break
        }
      }
      if (!done) {
        // Five ones, then the dod as 64-bit two's complement.
        w.write(0b11111, 5)
        w.write64(Math.floor(dod / TWO32) >>> 0, dod >>> 0, 64)
      }
    }
    xor.put(w, values[start + i]!)
  }
  return { data: w.bytes(), n: i }
}

/** Writes bits [trail, 64-lead) of hi:lo. */
function writeWindow(w: ReturnType<typeof bitWriter>, hi: number, lo: number, lead: number, trail: number) {
  const len = 64 - lead - trail
  // Shift right by trail.
  let sHi: number
  let sLo: number
  if (trail >= 32) {
    sHi = 0
    sLo = hi >>> (trail - 32)
  } else if (trail === 0) {
    sHi = hi
    sLo = lo
  } else {
    sHi = hi >>> trail
    sLo = ((lo >>> trail) | (hi << (32 - trail))) >>> 0
  }
  w.write64(sHi, sLo, len)
}

/** Reads n (0…64) bits as hi:lo. */
function read64(r: ReturnType<typeof bitReader>, n: number): [number, number] {
  if (n > 32) {
    const hi = r.read(n - 32)
    return [hi, r.read(32)]
  }
  return [0, r.read(n)]
}

/**
 * Reads the window `writeWindow` wrote (bits [trail, 64-lead)) back into place as the XOR's hi:lo,
 * in the tuple `read64` returned (no second array on the decode path).
 */
function readWindow(r: ReturnType<typeof bitReader>, lead: number, trail: number): [number, number] {
  const w = read64(r, 64 - lead - trail)
  const [hi, lo] = w
  // Shift left by trail.
  if (trail >= 32) {
    w[0] = (lo << (trail - 32)) >>> 0
    w[1] = 0
  } else if (trail > 0) {
    w[0] = ((hi << trail) | (lo >>> (32 - trail))) >>> 0
    w[1] = (lo << trail) >>> 0
  }
  return w
}

const signed64 = (hi: number, lo: number) => (hi >= 0x8000_0000 ? (hi - TWO32) * TWO32 + lo : hi * TWO32 + lo)

/** Decodes `n` points of a chunk, calling `each(ts, value)` in order. */
export function decodeChunk(data: Uint8Array, n: number, each: (ts: number, value: number) => void) {
  if (!n) return
  const r = bitReader(data)
  let [hi, lo] = read64(r, 64)
  let t = signed64(hi, lo)
  ;[hi, lo] = read64(r, 64)
  const values = xorStream()
  values.refBits(hi, lo)
  u32[HI] = hi
  u32[LO] = lo
  each(t, f64[0]!)
  let delta = 0
  for (let i = 1; i < n; i++) {
    let ones = 0
    while (ones < 5 && r.read(1) === 1) ones++
    if (ones > 0) {
      let dod: number
      if (ones === 5) {
        const [a, b] = read64(r, 64)
        dod = signed64(a, b)
      } else {
        const bits = DOD_BITS[ones - 1]!
        const raw = r.read(bits)
        dod = raw >= 2 ** (bits - 1) ? raw - 2 ** bits : raw
      }
      delta += dod
    }
    t += delta
    each(t, values.get(r))
  }
}

export type BitWriter = ReturnType<typeof bitWriter>
export type BitReader = ReturnType<typeof bitReader>

/**
 * One XOR-coded stream of floats: a chunk's values after its first (encodePrefix, decodeChunk), and
 * minute-pack.ts's hour of sums, minimums and maximums. Holds the reference value's bits and the last
 * meaningful window. `ref` sets the value the next one is XORed with (each written value becomes the
 * next reference).
 */
export function xorStream() {
  let prevHi = 0
  let prevLo = 0
  let lead = -1
  let trail = 0
  return {
    ref(value: number) {
      f64[0] = value
      prevHi = u32[HI]!
      prevLo = u32[LO]!
    },
    /** `ref` by the value's bits (a chunk's first value as read: a NaN's payload kept as it is). */
    refBits(hi: number, lo: number) {
      prevHi = hi
      prevLo = lo
    },
    /** Writes `value` as chunks write a value after their first: 0, 10 + window, or 11 + window's shape + bits. */
    put(w: BitWriter, value: number) {
      f64[0] = value
      const hi = u32[HI]!
      const lo = u32[LO]!
      const xHi = (hi ^ prevHi) >>> 0
      const xLo = (lo ^ prevLo) >>> 0
      prevHi = hi
      prevLo = lo
      if (!xHi && !xLo) return w.write(0, 1)
      let l = clz64(xHi, xLo)
      const t = ctz64(xHi, xLo)
      if (l > 31) l = 31 // five bits hold it; a smaller lead only widens the window
      if (lead >= 0 && l >= lead && t >= trail) {
        // Fits the previous window: 10 and its bits.
        w.write(0b10, 2)
        return writeWindow(w, xHi, xLo, lead, trail)
      }
      lead = l
      trail = t
      w.write(0b11, 2)
      w.write(l, 5)
      w.write(64 - l - t - 1, 6) // the window's length, 1…64, as len-1 in six bits
      writeWindow(w, xHi, xLo, l, t)
    },
    get(r: BitReader): number {
      if (r.read(1) === 1) {
        if (r.read(1) === 1) {
          lead = r.read(5)
          trail = 64 - lead - (r.read(6) + 1)
        }
        const [xHi, xLo] = readWindow(r, lead, trail)
        prevHi = (prevHi ^ xHi) >>> 0
        prevLo = (prevLo ^ xLo) >>> 0
      }
      u32[HI] = prevHi
      u32[LO] = prevLo
      return f64[0]!
    },
  }
}
