import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { bloomFilter } from '../../app/lib/bloom-filter.ts'

// Fingerprint-shaped keys (hex digests), the filter's real use.
const key = (i: number) => createHash('sha256').update(`key ${i}`).digest('hex').slice(0, 32)

describe('bloomFilter', () => {
  it('answers yes for every string added', () => {
    const f = bloomFilter(20_000)
    for (let i = 0; i < 20_000; i++) f.add(key(i))
    let missed = 0
    for (let i = 0; i < 20_000; i++) if (!f.has(key(i))) missed++
    expect(missed).toBe(0)
    expect(f.size).toBe(20_000)
  })

  it('answers yes for about 1 % or fewer of the strings never added, while within its capacity', () => {
    const f = bloomFilter(20_000)
    for (let i = 0; i < 20_000; i++) f.add(key(i))
    let wrong = 0
    for (let i = 20_000; i < 120_000; i++) if (f.has(key(i))) wrong++
    expect(wrong / 100_000).toBeLessThan(0.015)
  })

  it('answers no for everything when empty, and tells short and similar strings apart', () => {
    const f = bloomFilter(1_000)
    expect(f.has('')).toBe(false)
    expect(f.has(key(1))).toBe(false)
    for (let i = 0; i < 1_000; i++) f.add(`host-${i}`)
    let wrong = 0
    for (let i = 1_000; i < 11_000; i++) if (f.has(`host-${i}`)) wrong++
    expect(wrong / 10_000).toBeLessThan(0.015)
  })

  it('degrades past its capacity (more false yeses), never into a false no', () => {
    const f = bloomFilter(1_000)
    for (let i = 0; i < 10_000; i++) f.add(key(i))
    expect(f.size).toBeGreaterThan(f.capacity)
    for (let i = 0; i < 10_000; i++) expect(f.has(key(i))).toBe(true)
  })
})
