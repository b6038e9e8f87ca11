import { describe, expect, it } from 'vitest'
import {
  mannWhitneyU,
  normalCdf,
  quantileOf,
  twoProportionZ,
  twoSidedP,
} from '../../app/modules/registry/compare/stats.ts'

// Reference values from scipy 1.17 (scipy.stats.norm, scipy.stats.mannwhitneyu(method='asymptotic',
// use_continuity=True)) and the pooled two-proportion formula of any statistics textbook.

describe('normal distribution', () => {
  it('matches the table values of Φ', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7)
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021, 6)
    expect(normalCdf(-1)).toBeCloseTo(0.15865525, 6)
    expect(normalCdf(0.5)).toBeCloseTo(0.69146246, 6)
    expect(normalCdf(3)).toBeCloseTo(0.9986501, 6)
    expect(twoSidedP(1.959964)).toBeCloseTo(0.05, 5)
    expect(twoSidedP(-1.959964)).toBeCloseTo(0.05, 5)
  })
})

describe('two-proportion z-test', () => {
  it('30/200 vs 50/200: z = 2.5, p = 0.0124, significant', () => {
    const r = twoProportionZ(30, 200, 50, 200)!
    expect(r.z).toBeCloseTo(2.5, 10)
    expect(r.p).toBeCloseTo(0.012419330651552265, 6)
    expect(r.significant).toBe(true)
  })

  it('120/1000 vs 150/1000 sits just under 0.05; 52/500 vs 48/500 is noise', () => {
    const edge = twoProportionZ(120, 1000, 150, 1000)!
    expect(edge.z).toBeCloseTo(1.963049807622355, 9)
    expect(edge.p).toBeCloseTo(0.04964038686536878, 6)
    expect(edge.significant).toBe(true)
    const noise = twoProportionZ(52, 500, 48, 500)!
    expect(noise.z).toBeCloseTo(-0.42163702135578357, 9)
    expect(noise.p).toBeCloseTo(0.6732899796599958, 6)
    expect(noise.significant).toBe(false)
  })

  it('no trials on a side: no test; identical extreme rates: p = 1', () => {
    expect(twoProportionZ(0, 0, 5, 10)).toBeNull()
    expect(twoProportionZ(3, 10, 0, 0)).toBeNull()
    expect(twoProportionZ(0, 10, 0, 20)).toMatchObject({ z: 0, p: 1, significant: false })
    expect(twoProportionZ(10, 10, 20, 20)).toMatchObject({ z: 0, p: 1, significant: false })
  })
})

describe('Mann–Whitney U', () => {
  it('small samples without ties: U = 17, p = 0.1113 (not significant)', () => {
    const a = [19, 22, 16, 29, 24]
    const b = [20, 11, 17, 12]
    const r = mannWhitneyU(a, b)!
    expect(r.statistic).toBe(17)
    expect(r.p).toBeCloseTo(0.11134688653314041, 6)
    expect(r.significant).toBe(false)
    // The second sample is the smaller: z < 0; swapped, U is n1·n2 − 17 and z changes sign.
    expect(r.z).toBeLessThan(0)
    const swapped = mannWhitneyU(b, a)!
    expect(swapped.statistic).toBe(3)
    expect(swapped.p).toBeCloseTo(r.p, 12)
    expect(swapped.z).toBeCloseTo(-r.z, 12)
  })

  it('with ties (average ranks, tie-corrected variance): U = 7.5, p = 0.00637, significant', () => {
    const r = mannWhitneyU([1, 2, 2, 3, 3, 3, 4, 5], [3, 4, 4, 5, 5, 6, 7, 7, 8])!
    expect(r.statistic).toBe(7.5)
    expect(r.p).toBeCloseTo(0.006373133838085873, 6)
    expect(r.significant).toBe(true)
    expect(r.z).toBeGreaterThan(0)
  })

  it('an empty side: no test; all values equal: p = 1', () => {
    expect(mannWhitneyU([], [1])).toBeNull()
    expect(mannWhitneyU([1, 2], [])).toBeNull()
    expect(mannWhitneyU([5, 5, 5], [5, 5])).toMatchObject({ p: 1, significant: false })
  })
})

describe('quantiles', () => {
  it('interpolates linearly between ranks, as numpy does', () => {
    expect(quantileOf([], 0.5)).toBeNull()
    expect(quantileOf([7], 0.95)).toBe(7)
    expect(quantileOf([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantileOf([10, 20, 30, 40, 50], 0.95)).toBeCloseTo(48, 10)
  })
})
