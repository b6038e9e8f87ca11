import { describe, expect, it } from 'vitest'
import {
  hash32,
  isWeighted,
  pickByKey,
  pickRandom,
  splitOf,
  weightsValid,
} from '../../app/modules/healing/model-routes/weights.ts'

const t = (model: string, weight?: number) => ({ model, host: 'http://h', ...(weight === undefined ? {} : { weight }) })
const id = (x: { model: string }) => x.model

describe('route weights', () => {
  it('a route is weighted when any target has a weight; all-zero weights are invalid', () => {
    expect(isWeighted([t('a'), t('b')])).toBe(false)
    expect(isWeighted([t('a'), t('b', 0)])).toBe(true)
    expect(weightsValid([t('a'), t('b')])).toBe(true)
    expect(weightsValid([t('a', 0), t('b')])).toBe(false)
    expect(weightsValid([t('a', 0), t('b', 0)])).toBe(false)
    expect(weightsValid([t('a', 0), t('b', 1)])).toBe(true)
  })

  it('hash32 is a 32-bit unsigned hash whose bits are balanced over sequential keys', () => {
    const counts = Array.from({ length: 32 }, () => 0)
    const N = 20_000
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < N; i++) {
      const h = hash32(`caller-${i}`)
      min = Math.min(min, h)
      max = Math.max(max, h)
      for (let b = 0; b < 32; b++) if ((h >>> b) & 1) counts[b]!++
    }
    expect(min).toBeGreaterThanOrEqual(0)
    expect(max).toBeLessThan(2 ** 32)
    expect(Number.isInteger(min) && Number.isInteger(max)).toBe(true)
    // Each bit set in about half of the keys (binomial sd ≈ 0.35 %; 3 % is far outside chance).
    for (const c of counts) expect(Math.abs(c / N - 0.5)).toBeLessThan(0.03)
    expect(hash32('a')).not.toBe(hash32('b'))
  })

  it('pickRandom walks the cumulative weights, ends included', () => {
    const split = { indexes: [0, 2], weights: [9, 1], ids: ['a', 'c'] }
    expect(pickRandom(split, 0)).toBe(0)
    expect(pickRandom(split, 0.8999)).toBe(0)
    expect(pickRandom(split, 0.9)).toBe(2)
    expect(pickRandom(split, 0.999999)).toBe(2)
  })

  it('pickByKey is deterministic, only picks candidates, and ignores candidate order', () => {
    const split = { indexes: [0, 1, 3], weights: [5, 3, 2], ids: ['a', 'b', 'd'] }
    const reversed = { indexes: [3, 1, 0], weights: [2, 3, 5], ids: ['d', 'b', 'a'] }
    for (let i = 0; i < 500; i++) {
      const p = pickByKey(split, `k${i}`)
      expect([0, 1, 3]).toContain(p)
      expect(pickByKey(split, `k${i}`)).toBe(p)
      expect(pickByKey(reversed, `k${i}`)).toBe(p)
    }
  })

  it('splitOf: healthy weighted targets, else the first healthy standby, else every weighted target', () => {
    const targets = [t('w1', 2), t('s1'), t('s2', 0), t('w2', 1)]
    expect(splitOf(targets, [true, true, true, true], id)).toEqual({
      indexes: [0, 3],
      weights: [2, 1],
      ids: ['w1', 'w2'],
    })
    expect(splitOf(targets, [false, true, true, true], id).indexes).toEqual([3])
    expect(splitOf(targets, [false, true, true, false], id)).toEqual({ indexes: [1], weights: [1], ids: ['s1'] })
    expect(splitOf(targets, [false, false, true, false], id).indexes).toEqual([2])
    expect(splitOf(targets, [false, false, false, false], id).indexes).toEqual([0, 3])
  })
})
