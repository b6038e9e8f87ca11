import { describe, expect, it } from 'vitest'
import { boundedMap } from '../../app/lib/bounded-map.ts'

describe('boundedMap', () => {
  it('never holds more than its bound, however many keys go through it', () => {
    const m = boundedMap<number, number>(100)
    for (let i = 0; i < 10_000; i++) {
      m.set(i, i)
      expect(m.size).toBeLessThanOrEqual(100)
    }
    expect(m.get(9_999)).toBe(9_999)
    expect(m.get(0)).toBeUndefined()
  })

  it('keeps an entry that is used while others come and go, and drops one that is not', () => {
    const m = boundedMap<string, number>(10)
    m.set('kept', 1)
    m.set('dropped', 2)
    for (let i = 0; i < 100; i++) {
      m.set(`k${i}`, i)
      expect(m.get('kept')).toBe(1)
    }
    expect(m.get('dropped')).toBeUndefined()
  })

  it('replaces a value and forgets a deleted key in either generation', () => {
    const m = boundedMap<string, number>(4)
    m.set('a', 1)
    m.set('b', 2) // a and b now form the older generation
    m.set('a', 3)
    expect(m.get('a')).toBe(3)
    m.delete('a')
    m.delete('b')
    expect([m.get('a'), m.get('b'), m.size]).toEqual([undefined, undefined, 0])
  })
})
