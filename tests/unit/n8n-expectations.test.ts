import { describe, expect, it } from 'vitest'
import { firesBetween, graceFor, missedRun, nextExpected, nextFire } from '../../app/modules/n8n/health/expectations.ts'
import { triggerOf } from '../../app/modules/n8n/health/triggers.ts'

const MIN = 60_000
const HOUR = 60 * MIN
const at = (s: string) => Date.parse(s)
const schedule = (interval: Record<string, unknown>[], settings: Record<string, unknown> = {}) =>
  triggerOf(
    [{ type: 'n8n-nodes-base.scheduleTrigger', parameters: { rule: { interval } } }],
    settings,
    'America/New_York',
  )

describe('triggerOf', () => {
  it('reads every interval rule of a Schedule Trigger with n8n defaults', () => {
    const t = schedule([
      { field: 'seconds', secondsInterval: 10 },
      { field: 'minutes' },
      { field: 'hours', hoursInterval: 2, triggerAtMinute: 15 },
      { field: 'days', daysInterval: 3, triggerAtHour: 6 },
      { field: 'weeks', weeksInterval: 1, triggerAtDay: [1, 5], triggerAtHour: 9 },
      { field: 'months', monthsInterval: 2, triggerAtDayOfMonth: 15 },
      { field: 'cronExpression', expression: '30 8 * * 1-5' },
    ])
    expect(t.kind).toBe('schedule')
    expect(t.rules.map((r) => [r.cron, r.every])).toEqual([
      ['*/10 * * * * *', 1],
      ['0 */5 * * * *', 1],
      ['0 15 */2 * * *', 1],
      ['0 0 6 * * *', 3],
      ['0 0 9 * * 1,5', 1],
      ['0 0 0 15 */2 *', 1],
      ['0 30 8 * * 1-5', 1],
    ])
    expect(t.timezone).toBe('America/New_York')
  })

  it("uses the workflow's time zone, and the older Cron node's trigger times", () => {
    const t = triggerOf(
      [
        {
          type: 'n8n-nodes-base.cron',
          parameters: {
            triggerTimes: {
              item: [
                { mode: 'everyDay', hour: 7, minute: 30 },
                { mode: 'everyX', value: 10, unit: 'minutes' },
                { mode: 'custom', cronExpression: '0 0 12 * * 0' },
              ],
            },
          },
        },
      ],
      { timezone: 'Europe/Berlin' },
      'UTC',
    )
    expect(t).toMatchObject({ kind: 'cron', timezone: 'Europe/Berlin' })
    expect(t.rules.map((r) => r.cron)).toEqual(['0 30 7 * * *', '0 */10 * * * *', '0 0 12 * * 0'])
  })

  it('ignores disabled schedule nodes and tells webhook and other triggers apart', () => {
    const disabled = triggerOf(
      [
        { type: 'n8n-nodes-base.scheduleTrigger', disabled: true, parameters: {} },
        { type: 'n8n-nodes-base.webhook', parameters: {} },
      ],
      {},
      'UTC',
    )
    expect(disabled).toEqual({ kind: 'webhook', rules: [], timezone: null })
    expect(triggerOf([{ type: 'n8n-nodes-base.emailReadImapTrigger' }], {}, 'UTC').kind).toBe('other')
    expect(triggerOf('not nodes', null, 'UTC')).toEqual({ kind: 'none', rules: [], timezone: null })
  })

  it('reads a new Schedule Trigger with no rule as daily at midnight', () => {
    const t = triggerOf([{ type: 'n8n-nodes-base.scheduleTrigger', parameters: {} }], {}, 'UTC')
    expect(t.rules.map((r) => r.cron)).toEqual(['0 0 0 * * *'])
  })
})

describe('expected runs and missed schedules (fake clock)', () => {
  const every5 = schedule([{ field: 'minutes', minutesInterval: 5 }], { timezone: 'UTC' })

  it('expects the next fire after the last run, with half the interval as grace', () => {
    const last = at('2026-05-01T10:05:20Z')
    const next = nextExpected({ trigger: every5, expectEveryMs: null, lastRunAt: last, activeSince: null }, 5 * MIN)
    expect(next).toMatchObject({ at: at('2026-05-01T10:10:00Z'), graceMs: 150_000 })
    const input = { trigger: every5, expectEveryMs: null, lastRunAt: last, activeSince: null }
    expect(missedRun(input, at('2026-05-01T10:12:29Z'), 5 * MIN)).toBeNull()
    expect(missedRun(input, at('2026-05-01T10:12:31Z'), 5 * MIN)?.at).toBe(at('2026-05-01T10:10:00Z'))
  })

  it('walks hours of a schedule: runs that keep coming never miss, a stop is caught once its grace closes', () => {
    let last = at('2026-05-01T00:00:03Z')
    const input = () => ({ trigger: every5, expectEveryMs: null, lastRunAt: last, activeSince: null })
    // Six hours of polls every minute, the workflow running at every fire (a few seconds late).
    const start = last
    for (let now = start; now < start + 6 * HOUR; now += MIN) {
      const due = nextFire(every5, now - MIN)!
      if (due <= now) last = Math.max(last, due + 3000)
      expect(missedRun(input(), now, 5 * MIN)).toBeNull()
    }
    // Then it stops: the fire after the last run plus 150 s grace is the first poll that sees the miss.
    const stoppedAt = last
    let firstMiss: number | null = null
    for (let now = stoppedAt; now < stoppedAt + HOUR && firstMiss === null; now += 10_000)
      if (missedRun(input(), now, 5 * MIN)) firstMiss = now
    const due = nextFire(every5, stoppedAt)! + 150_000
    expect(firstMiss).toBeGreaterThan(due)
    expect(firstMiss).toBeLessThanOrEqual(due + 10_000)
  })

  it('waits for the activation before expecting anything, and expects nothing with no schedule', () => {
    const none = triggerOf([{ type: 'n8n-nodes-base.webhook' }], {}, 'UTC')
    expect(nextExpected({ trigger: none, expectEveryMs: null, lastRunAt: null, activeSince: 0 }, 5 * MIN)).toBeNull()
    expect(
      nextExpected({ trigger: every5, expectEveryMs: null, lastRunAt: null, activeSince: null }, 5 * MIN),
    ).toBeNull()
    const activated = at('2026-05-01T10:07:00Z')
    expect(
      nextExpected({ trigger: every5, expectEveryMs: null, lastRunAt: null, activeSince: activated }, 5 * MIN)?.at,
    ).toBe(at('2026-05-01T10:10:00Z'))
  })

  it('holds a user expectation "every N" for workflows no schedule drives', () => {
    const none = triggerOf([{ type: 'n8n-nodes-base.webhook' }], {}, 'UTC')
    const input = { trigger: none, expectEveryMs: HOUR, lastRunAt: at('2026-05-01T10:00:00Z'), activeSince: null }
    expect(missedRun(input, at('2026-05-01T11:04:59Z'), 5 * MIN)).toBeNull()
    expect(missedRun(input, at('2026-05-01T11:05:01Z'), 5 * MIN)).toMatchObject({ at: at('2026-05-01T11:00:00Z') })
  })

  it('counts "every 3 days" as three daily fires', () => {
    const t = schedule([{ field: 'days', daysInterval: 3, triggerAtHour: 6 }], { timezone: 'UTC' })
    const input = { trigger: t, expectEveryMs: null, lastRunAt: at('2026-05-01T06:00:10Z'), activeSince: null }
    expect(nextExpected(input, 5 * MIN)?.at).toBe(at('2026-05-04T06:00:00Z'))
    expect(missedRun(input, at('2026-05-02T07:00:00Z'), 5 * MIN)).toBeNull()
  })

  it('follows daylight saving time for a cron rule with a time zone (America/New_York, 2026-03-08)', () => {
    const t = schedule([{ field: 'cronExpression', expression: '0 9 * * *' }], { timezone: 'America/New_York' })
    // 09:00 EST is 14:00 UTC; after the change on Sunday 8 March, 09:00 EDT is 13:00 UTC.
    const input = { trigger: t, expectEveryMs: null, lastRunAt: at('2026-03-07T14:00:05Z'), activeSince: null }
    expect(nextExpected(input, 5 * MIN)?.at).toBe(at('2026-03-08T13:00:00Z'))
    expect(missedRun(input, at('2026-03-08T13:04:59Z'), 5 * MIN)).toBeNull()
    expect(missedRun(input, at('2026-03-08T13:05:01Z'), 5 * MIN)?.at).toBe(at('2026-03-08T13:00:00Z'))
    // A UTC reading of the same rule would have waited until 14:00 and missed the miss for an hour.
    expect(firesBetween(t, at('2026-03-06T00:00:00Z'), at('2026-03-10T00:00:00Z'))).toEqual([
      at('2026-03-06T14:00:00Z'),
      at('2026-03-07T14:00:00Z'),
      at('2026-03-08T13:00:00Z'),
      at('2026-03-09T13:00:00Z'),
    ])
  })

  it('skips the hour that does not exist in spring and runs once in the autumn hour that repeats (Europe/Berlin)', () => {
    const t = schedule([{ field: 'cronExpression', expression: '30 2 * * *' }], { timezone: 'Europe/Berlin' })
    const spring = firesBetween(t, at('2026-03-28T00:00:00Z'), at('2026-03-31T00:00:00Z'))
    // 28 March 02:30 CET = 01:30 UTC; 29 March 02:30 does not exist; 30 March 02:30 CEST = 00:30 UTC.
    expect(spring.map((x) => new Date(x).toISOString())).not.toContain('2026-03-29T01:30:00.000Z')
    expect(spring).toContain(at('2026-03-28T01:30:00Z'))
    expect(spring).toContain(at('2026-03-30T00:30:00Z'))
    const autumn = firesBetween(t, at('2026-10-25T00:00:00Z'), at('2026-10-25T03:00:00Z'))
    expect(autumn.length).toBe(1)
  })

  it('keeps the grace window between a minute and the cap', () => {
    expect(graceFor(30_000, 5 * MIN)).toBe(MIN)
    expect(graceFor(4 * MIN, 5 * MIN)).toBe(2 * MIN)
    expect(graceFor(24 * HOUR, 5 * MIN)).toBe(5 * MIN)
    expect(graceFor(null, 7 * MIN)).toBe(7 * MIN)
  })

  it('finds nothing to expect from a pattern croner refuses', () => {
    const bad = schedule([{ field: 'cronExpression', expression: 'not a cron' }])
    expect(nextExpected({ trigger: bad, expectEveryMs: null, lastRunAt: 0, activeSince: 0 }, MIN)).toBeNull()
    expect(nextFire(bad, 0)).toBeNull()
  })
})
