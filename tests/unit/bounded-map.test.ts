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

  it('drops an entry not used since the hand last passed it, before one used since', () => {
    const m = boundedMap<string, number>(3)
    m.set('a', 1)
    m.set('b', 2)
    m.set('c', 3)
    expect(m.get('a')).toBe(1)
    m.set('d', 4) // a was used since it came in: the hand clears its mark and takes b
    expect([m.get('b'), m.size]).toEqual([undefined, 3])
    // a's mark was cleared, d came in unmarked, c is used again now: the hand passes c and takes a
    expect(m.get('c')).toBe(3)
    m.set('e', 5)
    expect([m.get('a'), m.get('c'), m.get('d'), m.get('e'), m.size]).toEqual([undefined, 3, 4, 5, 3])
  })

  it('keeps the entries that are used again more than one of every few, while a stream of keys used once goes through', () => {
    const m = boundedMap<string, number>(1_000)
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 600; i++) expect(m.get(`hot${i}`) ?? (round ? -1 : 0)).toBe(round ? i : 0)
      for (let i = 0; i < 600; i++) if (!round) m.set(`hot${i}`, i)
      for (let i = 0; i < 300; i++) m.set(`once${round}-${i}`, i)
    }
    expect(m.size).toBe(1_000)
  })

  it('replaces a value without growing, and forgets a deleted key', () => {
    const m = boundedMap<string, number>(4)
    m.set('a', 1)
    m.set('b', 2)
    m.set('a', 3)
    expect([m.get('a'), m.size]).toEqual([3, 2])
    m.delete('a')
    m.delete('b')
    m.delete('nope')
    expect([m.get('a'), m.get('b'), m.size]).toEqual([undefined, undefined, 0])
    m.set('c', 5) // the list is whole again after deleting its ends
    expect([m.get('c'), m.size]).toEqual([5, 1])
  })

  it('keeps a mark with each entry until the entry is set again, dropped or evicted', () => {
    const m = boundedMap<string, number>(2)
    m.set('a', 1)
    expect(m.mark('a', 7)).toBe(-Infinity)
    expect(m.mark('a', 8)).toBe(7)
    expect(Number.isNaN(m.mark('nope', 1))).toBe(true)
    expect(m.get('nope')).toBeUndefined() // marking an absent key adds nothing
    m.set('a', 2)
    expect(m.mark('a', 9)).toBe(-Infinity)
    m.set('b', 3)
    m.set('c', 4) // evicts a or b; the slot's mark goes with it
    for (const k of ['a', 'b', 'c']) if (m.get(k) === undefined) expect(Number.isNaN(m.mark(k, 1))).toBe(true)
    expect(m.mark('c', 1)).toBe(-Infinity)
  })
})
