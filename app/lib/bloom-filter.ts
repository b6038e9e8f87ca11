/**
 * A set of strings in a fixed amount of memory that may answer yes for a string never added (about
 * 1 % of the time while it holds up to `capacity` strings, more beyond) but never answers no for one
 * that was: a hint for skipping work, never the answer itself. A bit array of at least 9.6 bits a
 * string (a power of two) and 7 positions a string, by double hashing two 32-bit hashes.
 */
export type BloomFilter = {
  has(key: string): boolean
  add(key: string): void
  /** Strings added (a string added twice counts twice). */
  readonly size: number
  readonly capacity: number
}

const PROBES = 7

export function bloomFilter(capacity: number): BloomFilter {
  const bits = 2 ** Math.ceil(Math.log2(Math.max(1024, capacity * 9.6)))
  const words = new Uint32Array(bits / 32)
  const mask = bits - 1
  let size = 0
  let h1 = 0
  let h2 = 0
  const hash = (key: string) => {
    // FNV-1a with two multipliers, then murmur3's finalizer on each so nearby keys spread.
    let a = 0x811c9dc5
    let b = 0x27d4eb2f
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i)
      a = Math.imul(a ^ c, 0x01000193)
      b = Math.imul(b ^ c, 0x5bd1e995)
    }
    h1 = fmix(a)
    h2 = fmix(b) | 1
  }
  return {
    has(key) {
      hash(key)
      for (let i = 0; i < PROBES; i++) {
        const bit = (h1 + Math.imul(i, h2)) & mask
        if (!(words[bit >>> 5]! & (1 << (bit & 31)))) return false
      }
      return true
    },
    add(key) {
      hash(key)
      for (let i = 0; i < PROBES; i++) {
        const bit = (h1 + Math.imul(i, h2)) & mask
        words[bit >>> 5]! |= 1 << (bit & 31)
      }
      size++
    },
    get size() {
      return size
    },
    capacity,
  }
}

function fmix(h: number) {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
