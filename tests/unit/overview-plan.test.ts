import { describe, expect, it } from 'vitest'
import { plan } from '../../app/modules/metrics/by-label.ts'

const H = 3_600_000
const M = 60_000
const T = Date.parse('2026-11-20T00:00:00Z')

describe('overview source plan', () => {
  it('whole hours from hourly rollups, then minutes, then raw points', () => {
    const marks = new Map([
      [3600, T + 20 * H],
      [60, T + 20 * H + 30 * M],
    ])
    expect(plan(T, T + 20 * H + 31 * M + 5000, marks)).toEqual([
      { res: 3600, from: T, to: T + 20 * H },
      { res: 60, from: T + 20 * H, to: T + 20 * H + 30 * M },
      { res: null, from: T + 20 * H + 30 * M, to: T + 20 * H + 31 * M + 5000 },
    ])
  })

  it('a range starting inside an hour reads minute rollups up to the first whole hour', () => {
    const marks = new Map([
      [3600, T + 5 * H],
      [60, T + 5 * H + 10 * M],
    ])
    expect(plan(T + 15 * M, T + 6 * H, marks)).toEqual([
      { res: 60, from: T + 15 * M, to: T + H },
      { res: 3600, from: T + H, to: T + 5 * H },
      { res: 60, from: T + 5 * H, to: T + 5 * H + 10 * M },
      { res: null, from: T + 5 * H + 10 * M, to: T + 6 * H },
    ])
  })

  it('before any rollup, everything is raw; watermarks past the end never reach beyond it', () => {
    expect(plan(T, T + 2 * H, new Map())).toEqual([{ res: null, from: T, to: T + 2 * H }])
    const ahead = new Map([
      [3600, T + 10 * H],
      [60, T + 10 * H],
    ])
    expect(plan(T, T + 2 * H + 90_000, ahead)).toEqual([
      { res: 3600, from: T, to: T + 2 * H },
      { res: 60, from: T + 2 * H, to: T + 2 * H + M },
      { res: null, from: T + 2 * H + M, to: T + 2 * H + 90_000 },
    ])
  })
})
