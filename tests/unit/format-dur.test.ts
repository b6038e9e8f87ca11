import { describe, expect, it } from 'vitest'
import { dur } from '../../app/lib/format.ts'

describe('dur: milliseconds as the duration text a form field takes back', () => {
  it('picks the largest unit that divides exactly', () => {
    expect(dur(300_000)).toBe('5m')
    expect(dur(90_000)).toBe('90s')
    expect(dur(86_400_000)).toBe('1d')
    expect(dur(7_200_000)).toBe('2h')
    expect(dur(129_600_000)).toBe('36h')
  })

  it('keeps what no unit divides as plain milliseconds, and 0 as 0', () => {
    expect(dur(1500)).toBe('1500')
    expect(dur(0)).toBe('0')
  })

  it('leaves a text as it is and nothing as empty', () => {
    expect(dur('5m')).toBe('5m')
    expect(dur(undefined)).toBe('')
    expect(dur(null)).toBe('')
  })
})
