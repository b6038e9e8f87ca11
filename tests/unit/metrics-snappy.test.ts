/**
 * The remote write snappy reader (app/modules/metrics/snappy.ts): one checked pass into a buffer it
 * keeps between calls. Its output is compared with snappyjs' on the shapes a stream has (short and
 * long literals, overlapping and distant copies, all three copy tags), and its refusals are checked.
 */
import { compress, uncompress } from 'snappyjs'
import { describe, expect, it } from 'vitest'
import { AppError } from '../../app/lib/errors.ts'
import { createSnappyReader, KEEP_BYTES } from '../../app/modules/metrics/snappy.ts'

const bytes = (...b: number[]) => new Uint8Array(b)
/** A deterministic pseudo-random byte source (no Math.random in tests). */
function noise(n: number, seed = 7) {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}
const text = (s: string) => new TextEncoder().encode(s)
const errorOf = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    if (e instanceof AppError)
      return { status: e.status, code: e.code, message: (e.details as { message: string }[] | undefined)?.[0]?.message }
    throw e
  }
  throw new Error('did not throw')
}

describe('snappy reader', () => {
  it('gives what snappyjs gives for literals, overlapping and distant copies', () => {
    const r = createSnappyReader()
    const inputs = [
      new Uint8Array(0),
      text('a'),
      text('a'.repeat(5000)), // runs: copies overlapping their source
      text('abcdefgh'.repeat(700)),
      noise(70_000), // long literals with extra length bytes
      text(`${'node_cpu_seconds_total{instance="host-1:9100"} '.repeat(300)}${'x'.repeat(100)}`),
      new Uint8Array([...noise(40_000, 3), ...noise(40_000, 3)]), // a copy 40 000 bytes back (2-byte offset)
    ]
    for (const input of inputs) {
      const packed = compress(input)
      expect(Array.from(r.uncompress(packed, 1 << 24))).toEqual(Array.from(uncompress(packed)))
    }
  })

  it('reads a copy with a 4-byte offset (the third copy tag)', () => {
    // Length header 8; a 4-byte literal "abcd"; a copy of 4 bytes 4 back, tagged with a 4-byte offset.
    const stream = bytes(8, (4 - 1) << 2, 97, 98, 99, 100, ((4 - 1) << 2) | 3, 4, 0, 0, 0)
    expect(new TextDecoder().decode(createSnappyReader().uncompress(stream, 100))).toBe('abcdabcd')
  })

  it('keeps its buffer between calls, and a later smaller body is read whole and alone', () => {
    const r = createSnappyReader()
    const big = noise(100_000, 1)
    const small = text('tiny body')
    expect(r.uncompress(compress(big), 1 << 24).length).toBe(100_000)
    const kept = r.keptBytes()
    expect(kept).toBeGreaterThanOrEqual(100_000)
    const out = r.uncompress(compress(small), 1 << 24)
    expect(new TextDecoder().decode(out)).toBe('tiny body')
    expect(r.keptBytes()).toBe(kept)
  })

  it('does not keep a buffer larger than KEEP_BYTES', () => {
    const r = createSnappyReader()
    const huge = new Uint8Array(KEEP_BYTES + 10).fill(1)
    expect(r.uncompress(compress(huge), KEEP_BYTES * 2).length).toBe(KEEP_BYTES + 10)
    expect(r.keptBytes()).toBeLessThanOrEqual(KEEP_BYTES)
  })

  it('refuses from the header alone what would decompress past the bound: 413', () => {
    // A header claiming 1 GB followed by nothing: refused before the stream is walked.
    const e = errorOf(() => createSnappyReader().uncompress(bytes(0x80, 0x80, 0x80, 0x80, 0x04), 1 << 20))
    expect(e).toMatchObject({ status: 413, code: 'payload_too_large' })
  })

  it('refuses malformed streams with 400 invalid_snappy, naming what is wrong', () => {
    const r = createSnappyReader()
    const good = compress(text('hello hello hello hello'))
    const cases: [Uint8Array, RegExp][] = [
      [bytes(), /no valid snappy length header/],
      [bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), /no valid snappy length header/],
      [good.slice(0, good.length - 3), /corrupt snappy stream|decompresses to/],
      [bytes(4, 0x01 | (0 << 2), 0), /corrupt/], // a copy before any output
      [bytes(6, (2 - 1) << 2, 97, 98, ((4 - 4) << 2) | 1 | (0 << 5), 9), /corrupt/], // offset past the output
      [bytes(4, ((4 - 1) << 2) | 2, 0, 0), /corrupt/], // offset 0
      [bytes(5, (2 - 1) << 2, 97, 98), /decompresses to 2 bytes, not the 5/], // shorter than its header
      [bytes(1, (2 - 1) << 2, 97, 98), /decompresses to 2 bytes, not the 1/], // longer than its header
    ]
    for (const [stream, message] of cases) {
      const e = errorOf(() => r.uncompress(stream, 1 << 20))
      expect(e.status).toBe(400)
      expect(e.code).toBe('invalid_snappy')
      expect(e.message).toMatch(message)
    }
    // And it still reads good bodies after those.
    expect(new TextDecoder().decode(r.uncompress(good, 1 << 20))).toBe('hello hello hello hello')
  })
})
