import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from 'node:crypto'
import * as nodeCrypto from 'node:crypto'

// One-shot hashing (`crypto.hash`, Node ≥ 20.12 and Bun) makes no Hash object a call: the same digest at
// about half the cost, which showed in the alert intake's profile (a fingerprint a label set, ADR 0013).
// Where a runtime lacks it, the streaming API gives the same digest.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash
export const sha256 = oneShot
  ? (text: string) => oneShot('sha256', text, 'hex')
  : (text: string) => createHash('sha256').update(text).digest('hex')

export const hmacSha256 = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex')

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a)
  const bb = Buffer.from(b)
  return ab.length === bb.length && timingSafeEqual(ab, bb)
}

/**
 * scrypt: a slow, memory-hard KDF that node:crypto offers on Node, Bun and Deno alike. N = 2^17,
 * r = 8, p = 1 is OWASP's minimum for scrypt; tests lower the cost through PASSWORD_HASH_COST only.
 */
export const PASSWORD_COST = 17
export const MAX_PASSWORD_COST = 18
type ScryptParams = { N: number; r: number; p: number }
const SCRYPT_R = 8
const SCRYPT_P = 1

// node:crypto refuses anything needing more than 32 MiB by default; N = 2^17, r = 8 needs 128 MiB.
const maxmem = ({ N, r, p }: ScryptParams) => 128 * r * (N + p + 2) + 1024 * 1024

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { ...params, maxmem: maxmem(params) }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

/** `scrypt$N$r$p$salt$key`: the parameters travel with the hash, so older hashes still verify. */
export async function hashPassword(password: string, cost = PASSWORD_COST): Promise<string> {
  const params = { N: 2 ** cost, r: SCRYPT_R, p: SCRYPT_P }
  const salt = randomBytes(16)
  const key = await scryptAsync(password, salt, params)
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

const parseHash = (stored: string) => {
  const [kind, n, r, p, salt, key] = stored.split('$')
  if (kind !== 'scrypt' || !salt || !key) return null
  return { params: { N: Number(n), r: Number(r), p: Number(p) }, salt, key }
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored)
  if (!parsed) return false
  // Parameters past the cost ceiling (N > 2^18, 256 MiB) or otherwise unusable match nothing,
  // rather than failing the request or letting one row tie up a gigabyte per sign-in.
  const { N, r, p } = parsed.params
  if (!(N <= 2 ** MAX_PASSWORD_COST && r <= 16 && p <= 4)) return false
  const derived = await scryptAsync(password, Buffer.from(parsed.salt, 'base64url'), parsed.params).catch(() => null)
  if (!derived) return false
  const expected = Buffer.from(parsed.key, 'base64url')
  return derived.length === expected.length && timingSafeEqual(derived, expected)
}

/** True when a stored hash is cheaper than `cost` asks: re-hash it once the password is known to be right. */
export function passwordNeedsRehash(stored: string, cost = PASSWORD_COST): boolean {
  const parsed = parseHash(stored)
  if (!parsed) return true
  const { N, r, p } = parsed.params
  return N < 2 ** cost || r < SCRYPT_R || p < SCRYPT_P
}

/** A well-formed hash of nothing at this cost: verified against when the user is unknown, so both paths take as long. */
export const dummyPasswordHash = (cost = PASSWORD_COST) =>
  `scrypt$${2 ** cost}$${SCRYPT_R}$${SCRYPT_P}$${'A'.repeat(22)}$${'A'.repeat(43)}`

const b64 = (x: Buffer) => x.toString('base64url')

/**
 * AES-256-GCM for secrets the server must read back, and HMAC for what it signs. Each key is
 * derived from SECRET_KEY with HKDF under its own label, so the encryption key is never also a
 * MAC key whose outputs are handed out (the healing webhook secret, tickets).
 *
 * `seal(plain, aad)` writes `v2.<iv>.<tag>.<ciphertext>` (base64url). `aad` names where the value
 * lives (`${table}:${id}:${field}`): it is authenticated, not stored, so a sealed value copied into
 * another row or field does not open there. Every value is bound: `open` needs the same `aad`.
 *
 * Values written before binding (v2 without AAD, and v1: sha256("homeostat:seal:" + SECRET_KEY), no
 * AAD) open only through `openUnbound`, which the one-time upgrade at boot uses to seal them again
 * bound to their place (app/secrets-upgrade.ts). Nothing else may read them: an unbound value would
 * open wherever it were copied.
 */
export function createSealer(secretKey: string) {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secretKey, 'homeostat', info, 32))
  const sealKey = derive('homeostat seal v2')
  const signKey = derive('homeostat sign v2')
  const legacyKey = createHash('sha256').update(`homeostat:seal:${secretKey}`).digest()

  const decrypt = (key: Buffer, parts: string[], aad: Buffer | undefined) => {
    const [iv, tag, data] = parts
    if (!iv || !tag || data === undefined) throw new Error('Not a sealed value')
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
    if (aad !== undefined) decipher.setAAD(aad)
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8')
  }

  // GCM treats an empty AAD as none: it would be an unbound value by another name.
  const place = (aad: string) => {
    if (!aad) throw new Error('A sealed value needs its place (AAD)')
    return Buffer.from(aad, 'utf8')
  }

  return {
    seal(plain: string, aad: string): string {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv)
      cipher.setAAD(place(aad))
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return ['v2', b64(iv), b64(cipher.getAuthTag()), b64(data)].join('.')
    },
    /** Opens a value bound to `aad`; throws for any other place, another key, or an unbound value. */
    open(sealed: string, aad: string): string {
      const [version, ...parts] = sealed.split('.')
      if (version === 'v2' && parts.length === 3) return decrypt(sealKey, parts, place(aad))
      throw new Error('Not a sealed value')
    },
    /** Only for the upgrade at boot: a value sealed before binding (v2 without AAD, or v1). */
    openUnbound(sealed: string): string {
      const [version, ...parts] = sealed.split('.')
      if (version === 'v2' && parts.length === 3) return decrypt(sealKey, parts, undefined)
      if (version === 'v1' && parts.length === 3) return decrypt(legacyKey, parts, undefined)
      throw new Error('Not a sealed value')
    },
    /** HMAC-SHA256 (base64url) with the signing key, for tickets and derived secrets. */
    sign: (text: string) => createHmac('sha256', signKey).update(text).digest('base64url'),
    /**
     * What `sign` gave before the keys were split (HMAC with the old sealing key). Only for a value
     * users already hold and must not see change: the healing webhook signing secret.
     */
    legacySign: (text: string) => createHmac('sha256', legacyKey).update(text).digest('base64url'),
  }
}
export type Sealer = ReturnType<typeof createSealer>

/** Show the first few characters of a secret and mask the rest. */
export const mask = (secret: string, visible = 4) =>
  secret.length <= visible ? '•'.repeat(secret.length) : `${secret.slice(0, visible)}${'•'.repeat(8)}`

/**
 * For the upgrade at boot: `rebind(sealed, aad)` gives a value sealed before binding (v2 without
 * AAD, or v1) sealed again bound to `aad`. A value bound already gives null; so does one that opens
 * neither way (another SECRET_KEY, or copied from elsewhere): it is counted and left as it is, never
 * bound to a place it was not sealed for. `seal` is for a secret found stored in the clear.
 */
export function createRebinder(sealer: Sealer) {
  const counts = { bound: 0, upgraded: 0, unreadable: 0, sealed: 0 }
  const rebind = (sealed: string, aad: string): string | null => {
    try {
      sealer.open(sealed, aad)
      counts.bound++
      return null
    } catch {
      // not bound to this place: maybe sealed before binding
    }
    try {
      const plain = sealer.openUnbound(sealed)
      counts.upgraded++
      return sealer.seal(plain, aad)
    } catch {
      counts.unreadable++
      return null
    }
  }
  const seal = (plain: string, aad: string) => {
    counts.sealed++
    return sealer.seal(plain, aad)
  }
  return { rebind, seal, counts }
}
export type Rebinder = Pick<ReturnType<typeof createRebinder>, 'rebind' | 'seal'>
