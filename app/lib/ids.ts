import { randomBytes, randomFillSync } from 'node:crypto'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** A ULID: 48-bit time + 80 random bits, Crockford base32. Sorts by creation time. */
export function newId(now = Date.now()): string {
  if (now !== lastTime) {
    let time = ''
    let t = now
    for (let i = 0; i < 10; i++) {
      time = CROCKFORD[t % 32] + time
      t = Math.floor(t / 32)
    }
    lastTime = now
    lastTimePart = time
  }
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const b = pool
  const o = poolOffset
  poolOffset += 16
  // prettier-ignore
  return (
    lastTimePart +
    C[b[o]!]! +
    C[b[o + 1]!]! +
    C[b[o + 2]!]! +
    C[b[o + 3]!]! +
    C[b[o + 4]!]! +
    C[b[o + 5]!]! +
    C[b[o + 6]!]! +
    C[b[o + 7]!]! +
    C[b[o + 8]!]! +
    C[b[o + 9]!]! +
    C[b[o + 10]!]! +
    C[b[o + 11]!]! +
    C[b[o + 12]!]! +
    C[b[o + 13]!]! +
    C[b[o + 14]!]! +
    C[b[o + 15]!]!
  )
}

// The time part of the last id (ids made in the same millisecond share it), and each byte's character.
let lastTime = -1
let lastTimePart = ''
const C = Array.from({ length: 256 }, (_, i) => CROCKFORD[i % 32]!)

// Random bytes drawn from a pool refilled 4 KB at a time: one ULID per request (the request id)
// would otherwise cost a randomBytes() call each.
const pool = Buffer.alloc(4096)
let poolOffset = pool.length

/** URL-safe random token with `bytes` bytes of entropy. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url')
