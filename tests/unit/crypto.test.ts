import { describe, expect, it } from 'vitest'
import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import {
  createRebinder,
  createSealer,
  hashPassword,
  passwordNeedsRehash,
  PASSWORD_COST,
  hmacSha256,
  mask,
  safeEqual,
  sha256,
  verifyPassword,
} from '../../app/lib/crypto.ts'

const KEY = 'a-secret-key-that-is-long-enough-0123456789'
const AAD = 'channels:c1:secrets'

/** A value sealed as older versions wrote it: AES-256-GCM under `key`, no AAD. */
function sealRaw(key: Buffer, version: string, plain: string) {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
  return [version, iv, cipher.getAuthTag(), data]
    .map((x) => (typeof x === 'string' ? x : x.toString('base64url')))
    .join('.')
}

describe('sealer (AES-256-GCM)', () => {
  const sealer = createSealer(KEY)

  it('round-trips text, including empty and non-ASCII', () => {
    for (const plain of [
      'https://hooks.slack.com/services/T000/B000/XXXX',
      '',
      'pässwörd ✓ 日本語',
      'x'.repeat(10_000),
    ]) {
      const sealed = sealer.seal(plain, AAD)
      expect(sealed).toMatch(/^v2\.[\w-]+\.[\w-]+\.[\w-]*$/)
      if (plain) expect(sealed).not.toContain(plain)
      expect(sealer.open(sealed, AAD)).toBe(plain)
    }
  })

  it('seals the same text differently each time (random IV)', () => {
    const a = sealer.seal('same', AAD)
    const b = sealer.seal('same', AAD)
    expect(a).not.toBe(b)
    expect(sealer.open(a, AAD)).toBe(sealer.open(b, AAD))
  })

  it('detects tampering with the ciphertext, the tag or the IV', () => {
    const [v, iv, tag, data] = sealer.seal('routing-key-123', AAD).split('.') as [string, string, string, string]
    const flip = (s: string) => {
      const bytes = Buffer.from(s, 'base64url')
      bytes[0] = bytes[0]! ^ 1
      return bytes.toString('base64url')
    }
    expect(() => sealer.open([v, iv, tag, flip(data)].join('.'), AAD)).toThrow()
    expect(() => sealer.open([v, iv, flip(tag), data].join('.'), AAD)).toThrow()
    expect(() => sealer.open([v, flip(iv), tag, data].join('.'), AAD)).toThrow()
    expect(() => sealer.open([v, iv, tag, data.slice(0, -2)].join('.'), AAD)).toThrow()
  })

  it('refuses values sealed with another key and values that are not sealed', () => {
    const other = createSealer(`${KEY}-other`)
    expect(() => other.open(sealer.seal('secret', AAD), AAD)).toThrow()
    expect(() => sealer.open('plain text', AAD)).toThrow('Not a sealed value')
    expect(() => sealer.open('v3.a.b.c', AAD)).toThrow('Not a sealed value')
    expect(() => sealer.open('v2.a.b', AAD)).toThrow('Not a sealed value')
  })

  it('binds a value to its row and field (AAD): it opens only with the same AAD', () => {
    const sealed = sealer.seal('totp-secret', 'users:u1:totp_secret')
    expect(sealer.open(sealed, 'users:u1:totp_secret')).toBe('totp-secret')
    expect(() => sealer.open(sealed, 'users:u2:totp_secret')).toThrow()
    expect(() => sealer.open(sealed, 'channels:u1:secrets')).toThrow()
    expect(() => sealer.openUnbound(sealed)).toThrow()
    // GCM reads an empty AAD as none: refused on both sides rather than an unbound value by another name.
    expect(() => sealer.seal('x', '')).toThrow('needs its place')
  })

  const unboundV2 = (plain: string) => {
    // As v2 was written before binding: the HKDF sealing key, no AAD.
    const key = Buffer.from(hkdfSync('sha256', KEY, 'homeostat', 'homeostat seal v2', 32))
    return sealRaw(key, 'v2', plain)
  }
  const v1 = (plain: string) => sealRaw(createHash('sha256').update(`homeostat:seal:${KEY}`).digest(), 'v1', plain)

  it('opens values sealed before binding (v2 without AAD, v1) only through openUnbound', () => {
    for (const old of [unboundV2('old routing key'), v1('old routing key')]) {
      expect(sealer.openUnbound(old)).toBe('old routing key')
      // open needs a bound value: an unbound one would open wherever it were copied.
      expect(() => sealer.open(old, 'channels:c1:secrets')).toThrow()
      expect(() => sealer.open(old, '')).toThrow()
    }
  })

  it('rebinds unbound values to their place, leaves bound and unreadable ones alone, and counts', () => {
    const { rebind, seal, counts } = createRebinder(sealer)
    const bound = sealer.seal('a', 'channels:c1:secrets')
    expect(rebind(bound, 'channels:c1:secrets')).toBeNull()
    // Bound elsewhere (copied here): not rebound to this place, and reported as unreadable.
    expect(rebind(bound, 'channels:c2:secrets')).toBeNull()
    expect(rebind(createSealer(`${KEY}-other`).seal('x', 'a'), 'a')).toBeNull()
    const upgraded = rebind(unboundV2('b'), 'channels:c3:secrets')!
    expect(sealer.open(upgraded, 'channels:c3:secrets')).toBe('b')
    const fromV1 = rebind(v1('c'), 'components:x:push_token_sealed')!
    expect(sealer.open(fromV1, 'components:x:push_token_sealed')).toBe('c')
    expect(sealer.open(seal('d', 'h'), 'h')).toBe('d')
    expect(counts).toEqual({ bound: 1, upgraded: 2, unreadable: 2, sealed: 1 })
  })

  it('signs with a key derived apart from the sealing key (HKDF), keeping the old value as legacySign', () => {
    const oldKey = createHash('sha256').update(`homeostat:seal:${KEY}`).digest()
    const before = createHmac('sha256', oldKey).update('homeostat:healing-webhook').digest('base64url')
    expect(sealer.sign('homeostat:healing-webhook')).not.toBe(before)
    expect(sealer.legacySign('homeostat:healing-webhook')).toBe(before)
    // The signing key is not the sealing key: a value sealed under a key equal to HKDF(sign) would not open.
    const signKey = createHash('sha256').update(KEY).digest()
    expect(sealer.sign('x')).not.toBe(createHmac('sha256', signKey).update('x').digest('base64url'))
  })

  it('signs deterministically per key', () => {
    expect(sealer.sign('ticket:1')).toBe(createSealer(KEY).sign('ticket:1'))
    expect(sealer.sign('ticket:1')).not.toBe(sealer.sign('ticket:2'))
    expect(sealer.sign('ticket:1')).not.toBe(createSealer(`${KEY}!`).sign('ticket:1'))
  })
})

describe('passwords (scrypt)', () => {
  it('hashes at N = 2^17, r = 8, p = 1 by default (OWASP minimum), the parameters in the hash', async () => {
    expect(PASSWORD_COST).toBe(17)
    const stored = await hashPassword('correct horse battery staple')
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$[\w-]+\$[\w-]+$/)
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true)
    expect(passwordNeedsRehash(stored)).toBe(false)
  }, 30_000) // one real 2^17 hash: about 2 s here, more on a loaded machine

  it('verifies hashes made with older parameters and marks them for re-hashing', async () => {
    const old = await hashPassword('correct horse battery staple', 15)
    expect(old).toMatch(/^scrypt\$32768\$8\$1\$/)
    expect(await verifyPassword('correct horse battery staple', old)).toBe(true)
    expect(passwordNeedsRehash(old)).toBe(true)
    expect(passwordNeedsRehash(old, 15)).toBe(false)
    expect(passwordNeedsRehash('garbage')).toBe(true)
  })

  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery staple', 12)
    expect(stored).toMatch(/^scrypt\$4096\$8\$1\$[\w-]+\$[\w-]+$/)
    expect(stored).not.toContain('correct horse')
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true)
    expect(await verifyPassword('correct horse battery stapler', stored)).toBe(false)
    expect(await verifyPassword('', stored)).toBe(false)
  })

  it('salts each hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', 12), hashPassword('same password', 12)])
    expect(a).not.toBe(b)
    expect(await verifyPassword('same password', b)).toBe(true)
  })

  it('a stored value that is not a usable hash matches nothing', async () => {
    for (const stored of [
      '',
      'plaintext',
      'bcrypt$2b$10$abc',
      'scrypt$abc$8$1$c2FsdA$a2V5',
      'scrypt$1048576$8$1$c2FsdA$a2V5',
      'scrypt$16384$8$1$$',
    ]) {
      expect(await verifyPassword('x', stored)).toBe(false)
    }
  })
})

describe('hashes and comparisons', () => {
  it('sha256 and HMAC-SHA256 match published test vectors', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    // RFC 4231, test case 2
    expect(hmacSha256('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
  })

  it('safeEqual compares contents and lengths', () => {
    expect(safeEqual('token-1', 'token-1')).toBe(true)
    expect(safeEqual('token-1', 'token-2')).toBe(false)
    expect(safeEqual('token', 'token-1')).toBe(false)
    expect(safeEqual('', '')).toBe(true)
  })

  it('mask shows only the first characters', () => {
    expect(mask('https://hooks.slack.com/x')).toBe('http••••••••')
    expect(mask('abc')).toBe('•••')
    expect(mask('abcdef', 2)).toBe('ab••••••••')
  })
})
