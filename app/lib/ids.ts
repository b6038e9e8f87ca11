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
  const b = random16()
  // prettier-ignore
  return lastTimePart + C[b[0]!]! + C[b[1]!]! + C[b[2]!]! + C[b[3]!]! + C[b[4]!]! + C[b[5]!]! + C[b[6]!]! + C[b[7]!]! +
    C[b[8]!]! + C[b[9]!]! + C[b[10]!]! + C[b[11]!]! + C[b[12]!]! + C[b[13]!]! + C[b[14]!]! + C[b[15]!]!
}

// The time part of the last id (ids made in the same millisecond share it), and each byte's character.
let lastTime = -1
let lastTimePart = ''
const C = Array.from({ length: 256 }, (_, i) => CROCKFORD[i % 32]!)

// Random bytes drawn from a pool refilled 4 KB at a time: one ULID per request (the request id)
// would otherwise cost a randomBytes() call each.
const pool = Buffer.alloc(4096)
let poolOffset = pool.length
function random16(): Uint8Array {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16)
  poolOffset += 16
  return bytes
}

/** URL-safe random token with `bytes` bytes of entropy. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url')
