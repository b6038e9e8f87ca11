import { describe, expect, it } from 'vitest'
import { change, defaultStep, trendStats } from '../../app/modules/metrics/trends.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
const H = 3_600_000
const M = 60_000
const at = (hours: number) => T0 + hours * H

describe('trendStats', () => {
  it('a perfect line: slope, r² = 1, z-score and the crossing time', () => {
    // y = 10 + 2x at x = 0, 1, 2, 3 hours: mean 13, deviations −3, −1, 1, 3, population std √5.
    const line: [number, number][] = [
      [at(0), 10],
      [at(1), 12],
      [at(2), 14],
      [at(3), 16],
    ]
    const s = trendStats(line, 20, at(3))
    expect(s.points).toBe(4)
    expect(s.slopePerHour).toBeCloseTo(2, 12)
    expect(s.r2).toBeCloseTo(1, 12)
    expect(s.mean).toBe(13)
    expect(s.std).toBeCloseTo(Math.sqrt(5), 12)
    expect(s.zScore).toBeCloseTo(3 / Math.sqrt(5), 12)
    expect(s.latest).toEqual({ t: at(3), value: 16 })
    // 20 = 10 + 2x at x = 5 hours.
    expect(s.forecastAt).toBe(at(5))
    // 5 = 10 + 2x at x = −2.5: behind us, the line moves away from it.
    expect(trendStats(line, 5, at(3)).forecastAt).toBeNull()
    // Already at the threshold now: it is reached now.
    expect(trendStats(line, 16, at(3)).forecastAt).toBe(at(3))
  })

  it('a flat series: no slope, no z-score, no r², never crosses', () => {
    const flat: [number, number][] = [0, 1, 2, 3, 4].map((i) => [T0 + i * M, 7])
    const s = trendStats(flat, 10, T0 + 4 * M)
    expect(s).toMatchObject({ slopePerHour: 0, r2: null, std: 0, zScore: null, forecastAt: null, mean: 7 })
    // Equal values reached by different float paths are still flat.
    const noisy: [number, number][] = [
      [T0, 0.3],
      [T0 + M, 0.1 + 0.2],
      [T0 + 2 * M, 0.3],
      [T0 + 3 * M, 0.6 / 2],
    ]
    expect(trendStats(noisy, 1)).toMatchObject({ slopePerHour: 0, zScore: null, forecastAt: null })
  })

  it('noise with a known z-score, slope and r²', () => {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std 2, so the latest (9) is 2σ above.
    const ys = [2, 4, 4, 4, 5, 5, 7, 9]
    const s = trendStats(ys.map((y, i) => [T0 + i * M, y]))
    expect(s.mean).toBe(5)
    expect(s.std).toBe(2)
    expect(s.zScore).toBe(2)
    // x in minutes 0..7: Sxx = 42, Sxy = 34, Syy = 32. Slope 34/42 per minute = 340/7 per hour.
    expect(s.slopePerHour).toBeCloseTo(340 / 7, 10)
    expect(s.r2).toBeCloseTo((34 * 34) / (42 * 32), 12)
    expect(s.forecastAt).toBeNull() // no threshold asked
  })

  it('a falling line crosses a threshold below it, not one above it', () => {
    // y = 100 − 20x at x = 0, 0.5, 1 hours.
    const falling: [number, number][] = [
      [at(0), 100],
      [at(0.5), 90],
      [at(1), 80],
    ]
    expect(trendStats(falling, 50, at(1)).forecastAt).toBe(at(2.5))
    expect(trendStats(falling, 150, at(1)).forecastAt).toBeNull()
    expect(trendStats(falling, 50, at(1)).slopePerHour).toBeCloseTo(-20, 12)
  })

  it('too few points', () => {
    expect(trendStats([])).toMatchObject({
      points: 0,
      latest: null,
      mean: null,
      zScore: null,
      slopePerHour: null,
      r2: null,
      forecastAt: null,
    })
    const one = trendStats([[T0, 5]], 10, T0)
    expect(one).toMatchObject({ points: 1, mean: 5, zScore: null, slopePerHour: null, forecastAt: null })
    // Two points make a line but too few for a z-score.
    const two = trendStats(
      [
        [at(0), 1],
        [at(1), 3],
      ],
      5,
      at(1),
    )
    expect(two).toMatchObject({ slopePerHour: 2, zScore: null, forecastAt: at(2) })
  })

  it('a crossing beyond what a date can hold is null', () => {
    expect(
      trendStats(
        [
          [at(0), 0],
          [at(1), 1e-6],
          [at(2), 2e-6],
        ],
        1e9,
        at(2),
      ).forecastAt,
    ).toBeNull()
  })
})

describe('change and steps', () => {
  it('change is absolute and in percent of the previous magnitude', () => {
    expect(change(12, 10)).toEqual({ abs: 2, pct: 20 })
    expect(change(5, -10)).toEqual({ abs: 15, pct: 150 })
    expect(change(3, 0)).toEqual({ abs: 3, pct: null })
    expect(change(null, 4)).toEqual({ abs: null, pct: null })
  })

  it('the default step gives about 60 round steps that divide the window', () => {
    expect(defaultStep(H)).toBe(M)
    expect(defaultStep(24 * H)).toBe(30 * M)
    expect(defaultStep(7 * 24 * H)).toBe(3 * H)
    expect(defaultStep(30 * 24 * H)).toBe(12 * H)
    expect(defaultStep(90 * M)).toBe(2 * M)
    expect(defaultStep(M)).toBe(1000)
  })
})
