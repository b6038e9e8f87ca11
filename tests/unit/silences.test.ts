import { describe, expect, it } from 'vitest'
import { createSilenceWindows, NO_END, type SilenceLike } from '../../app/modules/alerts/silences/silence-windows.ts'
import { silenceProblems } from '../../app/modules/alerts/silences/silences.ts'

// One service's set of window functions (each alerts service makes its own, with its own memos).
const { isSilenced, matchingSilences, nextWindow, silenceState, silencesAt, windowAt } = createSilenceWindows()

const T = (iso: string) => Date.parse(iso)
const one = (over: Partial<SilenceLike> = {}): SilenceLike => ({
  id: 's1',
  matchers: [{ label: 'agent', op: '=', value: 'support' }],
  startsAt: T('2026-01-10T10:00:00Z'),
  endsAt: T('2026-01-10T12:00:00Z'),
  cron: null,
  durationMs: null,
  timezone: null,
  expiredAt: null,
  ...over,
})
const labels = { alertname: 'HighErrorRate', agent: 'support', env: 'prod' }

describe('matching', () => {
  const at = T('2026-01-10T11:00:00Z')
  it.each([
    ['=', 'agent', 'support', true],
    ['=', 'agent', 'sales', false],
    ['!=', 'agent', 'sales', true],
    ['!=', 'agent', 'support', false],
    ['=~', 'agent', 'sup.*', true],
    ['=~', 'agent', 'sup', false], // anchored, as Prometheus reads it
    ['=~', 'agent', 'sales|support', true],
    ['!~', 'agent', 'sales|support', false],
    ['!~', 'env', 'dev|staging', true],
    ['=', 'missing', '', true], // a missing label reads as ''
    ['!=', 'missing', '', false],
    ['=~', 'missing', '.+', false],
  ] as const)('%s %s %s → %s', (op, label, value, want) => {
    expect(isSilenced(labels, [one({ matchers: [{ label, op, value }] })], at)).toBe(want)
  })

  it('every matcher of a silence must match; any silence suffices', () => {
    const both = one({
      matchers: [
        { label: 'agent', op: '=', value: 'support' },
        { label: 'env', op: '=', value: 'dev' },
      ],
    })
    expect(isSilenced(labels, [both], at)).toBe(false)
    const other = one({ id: 's2', matchers: [{ label: 'env', op: '=~', value: 'prod|dev' }] })
    expect(matchingSilences(labels, [both, other], at).map((s) => s.id)).toEqual(['s2'])
  })
})

describe('one-off silences', () => {
  const s = one()
  it('is in force from startsAt (inclusive) to endsAt (exclusive)', () => {
    expect(silencesAt(s, T('2026-01-10T09:59:59.999Z'))).toBe(false)
    expect(silencesAt(s, T('2026-01-10T10:00:00Z'))).toBe(true)
    expect(silencesAt(s, T('2026-01-10T11:59:59.999Z'))).toBe(true)
    expect(silencesAt(s, T('2026-01-10T12:00:00Z'))).toBe(false)
    expect([
      silenceState(s, T('2026-01-10T09:00:00Z')),
      silenceState(s, T('2026-01-10T11:00:00Z')),
      silenceState(s, T('2026-01-10T12:00:00Z')),
    ]).toEqual(['pending', 'active', 'expired'])
  })

  it('expiring early ends it at expiredAt', () => {
    const ex = one({ expiredAt: T('2026-01-10T10:30:00Z') })
    expect(silencesAt(ex, T('2026-01-10T10:29:59.999Z'))).toBe(true)
    expect(silencesAt(ex, T('2026-01-10T10:30:00Z'))).toBe(false)
    expect(silenceState(ex, T('2026-01-10T10:30:00Z'))).toBe('expired')
  })
})

describe('recurring windows (Croner pattern + duration)', () => {
  // Every night at 02:00 in Berlin for 2 hours, from 1 January 2026, no end.
  const nightly = one({
    cron: '0 2 * * *',
    durationMs: 2 * 3_600_000,
    timezone: 'Europe/Berlin',
    startsAt: T('2026-01-01T00:00:00Z'),
    endsAt: NO_END,
  })

  it('is in force from each occurrence (inclusive) for the duration (exclusive), in winter time (UTC+1)', () => {
    expect(silencesAt(nightly, T('2026-01-10T00:59:59.999Z'))).toBe(false)
    expect(silencesAt(nightly, T('2026-01-10T01:00:00Z'))).toBe(true)
    expect(silencesAt(nightly, T('2026-01-10T02:59:59.999Z'))).toBe(true)
    expect(silencesAt(nightly, T('2026-01-10T03:00:00Z'))).toBe(false)
    expect(windowAt(nightly, T('2026-01-10T02:00:00Z'))).toEqual({
      startsAt: T('2026-01-10T01:00:00Z'),
      endsAt: T('2026-01-10T03:00:00Z'),
    })
    expect(silenceState(nightly, T('2026-01-10T12:00:00Z'))).toBe('pending')
    expect(silenceState(nightly, T('2026-01-10T01:30:00Z'))).toBe('active')
  })

  it('follows the zone into summer time (UTC+2)', () => {
    expect(silencesAt(nightly, T('2026-07-10T00:00:00Z'))).toBe(true)
    expect(silencesAt(nightly, T('2026-07-10T01:59:59.999Z'))).toBe(true)
    expect(silencesAt(nightly, T('2026-07-10T02:00:00Z'))).toBe(false)
    expect(silencesAt(nightly, T('2026-07-09T23:59:59.999Z'))).toBe(false)
  })

  it('reads the pattern in UTC without a timezone', () => {
    const utc = { ...nightly, timezone: null }
    expect(silencesAt(utc, T('2026-01-10T02:00:00Z'))).toBe(true)
    expect(silencesAt(utc, T('2026-01-10T01:59:59Z'))).toBe(false)
    expect(silencesAt(utc, T('2026-01-10T04:00:00Z'))).toBe(false)
  })

  it('only within [startsAt, endsAt): an occurrence before the start counts from the start; the end cuts a window short', () => {
    const span = { ...nightly, startsAt: T('2026-01-10T01:30:00Z'), endsAt: T('2026-01-11T02:00:00Z') }
    expect(silencesAt(span, T('2026-01-10T01:29:59Z'))).toBe(false)
    expect(silencesAt(span, T('2026-01-10T01:30:00Z'))).toBe(true)
    expect(silencesAt(span, T('2026-01-11T01:59:59Z'))).toBe(true)
    expect(silencesAt(span, T('2026-01-11T02:00:00Z'))).toBe(false)
    expect(silenceState(span, T('2026-01-11T02:00:00Z'))).toBe('expired')
    expect(windowAt(span, T('2026-01-11T01:00:00Z'))).toEqual({
      startsAt: T('2026-01-11T01:00:00Z'),
      endsAt: T('2026-01-11T02:00:00Z'),
    })
  })

  it('windows that repeat within the hour (every 15 minutes for 5)', () => {
    const s = one({ cron: '*/15 * * * *', durationMs: 5 * 60_000, startsAt: T('2026-01-10T00:00:00Z'), endsAt: NO_END })
    expect(
      [
        T('2026-01-10T10:15:00Z'),
        T('2026-01-10T10:19:59Z'),
        T('2026-01-10T10:20:00Z'),
        T('2026-01-10T10:29:59Z'),
        T('2026-01-10T10:30:00Z'),
      ].map((at) => silencesAt(s, at)),
    ).toEqual([true, true, false, false, true])
  })

  it('tells the next window', () => {
    expect(nextWindow(nightly, T('2026-01-10T12:00:00Z'))).toEqual({
      startsAt: T('2026-01-11T01:00:00Z'),
      endsAt: T('2026-01-11T03:00:00Z'),
    })
    expect(nextWindow(one(), T('2026-01-10T11:00:00Z'))).toBeNull()
    // An occurrence exactly at startsAt is the first window.
    expect(nextWindow({ ...nightly, startsAt: T('2026-02-01T01:00:00Z') }, T('2026-01-10T12:00:00Z'))).toEqual({
      startsAt: T('2026-02-01T01:00:00Z'),
      endsAt: T('2026-02-01T03:00:00Z'),
    })
  })
})

describe('what a silence must be', () => {
  const now = T('2026-01-10T10:00:00Z')
  const m = [{ label: 'agent', op: '=' as const, value: 'support' }]
  const fields = (input: Parameters<typeof silenceProblems>[0]) => silenceProblems(input, now).map((p) => p.field)
  it('accepts one-off and recurring silences', () => {
    expect(fields({ matchers: m, endsAt: now + 3_600_000 })).toEqual([])
    expect(fields({ matchers: m, duration: 3_600_000 })).toEqual([])
    expect(fields({ matchers: m, cron: '0 2 * * 6', duration: 7_200_000, timezone: 'America/New_York' })).toEqual([])
  })
  it('names each problem', () => {
    expect(fields({ matchers: m, startsAt: now + 7_200_000, endsAt: now + 3_600_000 })).toEqual(['endsAt'])
    expect(fields({ matchers: m, startsAt: now - 7_200_000, endsAt: now - 3_600_000 })).toEqual(['endsAt'])
    expect(fields({ matchers: m })).toEqual(['endsAt'])
    expect(fields({ matchers: m, endsAt: now + 1000, duration: 1000 })).toEqual(['duration'])
    expect(fields({ matchers: m, cron: 'every night', duration: 1000 })).toEqual(['cron'])
    expect(fields({ matchers: m, cron: '0 2 * * *' })).toEqual(['duration'])
    expect(fields({ matchers: m, cron: '0 2 * * *', duration: 1000, timezone: 'Mars/Olympus' })).toEqual(['timezone'])
    expect(fields({ matchers: [m[0]!, { label: 'agent', op: '=~', value: '(unclosed' }], duration: 1000 })).toEqual([
      'matchers.1.value',
    ])
    expect(fields({ matchers: [{ label: 'agent', op: '=~', value: '.*' }], duration: 1000 })).toEqual(['matchers'])
  })
})
