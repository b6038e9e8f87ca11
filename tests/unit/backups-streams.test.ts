import { createHash, randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { gunzip, gzip, measured } from '../../app/modules/backups/snapshots/streams.ts'

async function* chunks(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

async function collect(body: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const part of body) parts.push(part)
  return Buffer.concat(parts)
}

// Compressible but not trivial: like SQLite pages, runs of structure with noise in them.
const pageLike = (n: number) => {
  const out = Buffer.alloc(n)
  const noise = randomBytes(n / 8)
  for (let i = 0; i < n; i++) out[i] = i % 8 === 0 ? noise[i / 8]! : i % 251
  return out
}

describe('backup streams: gzip and gunzip through node:zlib', () => {
  it('round-trips several MB in small and large chunks, hashing what passes', async () => {
    const plain = pageLike(3 * 1024 * 1024 + 17)
    for (const size of [1000, 300 * 1024]) {
      const stored = await collect(gzip(chunks(plain, size)))
      expect([stored[0], stored[1]]).toEqual([0x1f, 0x8b])
      expect(stored.length).toBeLessThan(plain.length)
      const back = measured(gunzip(chunks(stored, size)))
      expect(Buffer.compare(await collect(back.body), plain)).toBe(0)
      expect(back.result()).toEqual({
        size: plain.length,
        sha256: createHash('sha256').update(plain).digest('hex'),
      })
    }
  })

  it('reads gzip members one after another as one stream (what `gunzip` does)', async () => {
    const a = Buffer.from('first member, ')
    const b = Buffer.from('second member')
    const both = Buffer.concat([gzipSync(a), gzipSync(b)])
    expect((await collect(gunzip(chunks(both, 7)))).toString()).toBe('first member, second member')
  })

  it('ends in an error, not a hang, on a cut-off or damaged stream', async () => {
    const stored = await collect(gzip(chunks(pageLike(512 * 1024), 64 * 1024)))
    await expect(collect(gunzip(chunks(stored.subarray(0, stored.length / 2), 4096)))).rejects.toThrow()
    const damaged = Buffer.from(stored)
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff
    await expect(collect(gunzip(chunks(damaged, 4096)))).rejects.toThrow()
    await expect(collect(gunzip(chunks(Buffer.from('not gzip at all'), 4)))).rejects.toThrow(/header/)
  })

  it('passes an error from upstream through, and stops reading upstream when the reader stops', async () => {
    async function* failing() {
      yield pageLike(64 * 1024)
      throw new Error('disk went away')
    }
    await expect(collect(gzip(failing()))).rejects.toThrow('disk went away')

    let read = 0
    let closed = false
    async function* endless() {
      try {
        while (true) {
          read++
          yield pageLike(64 * 1024)
        }
      } finally {
        closed = true
      }
    }
    for await (const _ of gzip(endless())) break
    expect(closed).toBe(true)
    expect(read).toBeLessThan(1000)
  })
})
