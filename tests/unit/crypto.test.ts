import { describe, expect, it } from 'vitest'
import {
  createSealer,
  hashPassword,
  hmacSha256,
  mask,
  safeEqual,
  sha256,
  verifyPassword,
} from '../../app/lib/crypto.ts'

const KEY = 'a-secret-key-that-is-long-enough-0123456789'

describe('sealer (AES-256-GCM)', () => {
  const sealer = createSealer(KEY)

  it('round-trips text, including empty and non-ASCII', () => {
    for (const plain of [
      'https://hooks.slack.com/services/T000/B000/XXXX',
      '',
      'pässwörd ✓ 日本語',
      'x'.repeat(10_000),
    ]) {
      const sealed = sealer.seal(plain)
      expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]*$/)
      if (plain) expect(sealed).not.toContain(plain)
      expect(sealer.open(sealed)).toBe(plain)
    }
  })

  it('seals the same text differently each time (random IV)', () => {
    const a = sealer.seal('same')
    const b = sealer.seal('same')
    expect(a).not.toBe(b)
    expect(sealer.open(a)).toBe(sealer.open(b))
  })

  it('detects tampering with the ciphertext, the tag or the IV', () => {
    const [v, iv, tag, data] = sealer.seal('routing-key-123').split('.') as [string, string, string, string]
    const flip = (s: string) => {
      const bytes = Buffer.from(s, 'base64url')
      bytes[0] = bytes[0]! ^ 1
      return bytes.toString('base64url')
    }
    expect(() => sealer.open([v, iv, tag, flip(data)].join('.'))).toThrow()
    expect(() => sealer.open([v, iv, flip(tag), data].join('.'))).toThrow()
    expect(() => sealer.open([v, flip(iv), tag, data].join('.'))).toThrow()
    expect(() => sealer.open([v, iv, tag, data.slice(0, -2)].join('.'))).toThrow()
  })

  it('refuses values sealed with another key and values that are not sealed', () => {
    const other = createSealer(`${KEY}-other`)
    expect(() => other.open(sealer.seal('secret'))).toThrow()
    expect(() => sealer.open('plain text')).toThrow('Not a sealed value')
    expect(() => sealer.open('v2.a.b.c')).toThrow('Not a sealed value')
  })

  it('signs deterministically per key', () => {
    expect(sealer.sign('ticket:1')).toBe(createSealer(KEY).sign('ticket:1'))
    expect(sealer.sign('ticket:1')).not.toBe(sealer.sign('ticket:2'))
    expect(sealer.sign('ticket:1')).not.toBe(createSealer(`${KEY}!`).sign('ticket:1'))
  })
})

describe('passwords (scrypt)', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery staple')
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[\w-]+\$[\w-]+$/)
    expect(stored).not.toContain('correct horse')
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true)
    expect(await verifyPassword('correct horse battery stapler', stored)).toBe(false)
    expect(await verifyPassword('', stored)).toBe(false)
  })

  it('salts each hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')])
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
