import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  scrypt,
  timingSafeEqual,
} from 'node:crypto'

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

export const hmacSha256 = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex')

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a)
  const bb = Buffer.from(b)
  return ab.length === bb.length && timingSafeEqual(ab, bb)
}

// scrypt: a slow, memory-hard KDF that node:crypto offers on Node, Bun and Deno alike.
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

function scryptAsync(password: string, salt: Buffer, params: typeof SCRYPT): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, params, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(password, salt, SCRYPT)
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = stored.split('$')
  if (kind !== 'scrypt' || !salt || !key) return false
  const params = { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem }
  // A stored hash with unusable parameters matches nothing (rather than failing the request).
  const derived = await scryptAsync(password, Buffer.from(salt, 'base64url'), params).catch(() => null)
  if (!derived) return false
  const expected = Buffer.from(key, 'base64url')
  return derived.length === expected.length && timingSafeEqual(derived, expected)
}

/** AES-256-GCM with a key derived from SECRET_KEY. Output: v1.<iv>.<tag>.<ciphertext>, base64url. */
export function createSealer(secretKey: string) {
  const key = createHash('sha256').update(`homeostat:seal:${secretKey}`).digest()
  return {
    seal(plain: string): string {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return ['v1', iv, cipher.getAuthTag(), data]
        .map((x) => (typeof x === 'string' ? x : x.toString('base64url')))
        .join('.')
    },
    open(sealed: string): string {
      const [version, iv, tag, data] = sealed.split('.')
      if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('Not a sealed value')
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8')
    },
    /** HMAC with a key derived from SECRET_KEY, for short-lived signed tokens. */
    sign: (text: string) => createHmac('sha256', key).update(text).digest('base64url'),
  }
}
export type Sealer = ReturnType<typeof createSealer>

/** Show the first few characters of a secret and mask the rest. */
export const mask = (secret: string, visible = 4) =>
  secret.length <= visible ? '•'.repeat(secret.length) : `${secret.slice(0, visible)}${'•'.repeat(8)}`
