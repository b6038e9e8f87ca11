/**
 * The status page's bars with the past days kept (bars.ts `createBarsRenderer`): whatever changes
 * between renders — today's value, a past day (a late result), the window moving to a new day, days
 * with no data, components moved — the HTML and the summary equal a render from scratch, and so does
 * the whole page.
 */
import { describe, expect, it } from 'vitest'
import { bars, createBarsRenderer } from '../../app/modules/status-pages/bars.ts'
import { renderStatusHtml } from '../../app/modules/status-pages/public-page.tsx'
import type { PublicView } from '../../app/modules/status-pages/view.ts'

const DAY = 86_400_000
const daysFrom = (first: number) =>
  Array.from({ length: 90 }, (_, i) => new Date(first + i * DAY).toISOString().slice(0, 10))
const D1 = daysFrom(Date.UTC(2026, 8, 9))
const D2 = daysFrom(Date.UTC(2026, 8, 10))

describe('kept bars', () => {
  it('equal bars made from scratch through today, late results, a new day and missing days', () => {
    const renderer = createBarsRenderer()
    const values: (number | null)[] = D1.map((_, i) => (i % 17 === 0 ? 97.25 : i % 29 === 0 ? null : 100))
    const steps: [string[], (number | null)[], number | null][] = []
    steps.push([D1, values, 99.5])
    steps.push([D1, values, 99.5]) // nothing changed
    steps.push([D1, [...values.slice(0, -1), 42], 98.9]) // today moved
    const late = [...values.slice(0, -1), 42]
    late[60] = 80 // a late result moved a past day
    steps.push([D1, late, 98.7])
    steps.push([D1, late.map((u, i) => (i === 3 ? 12.5 : u)), 98.6]) // a new worst day in the past
    steps.push([D2, [...late.slice(1), 100], 98.8]) // the next day: the window moved
    steps.push([D2, D2.map(() => null), null]) // nothing known
    steps.push([D2, D2.map(() => 100), 100]) // no downtime
    for (const [days, vals, uptime] of steps) {
      const page = renderer('acme')
      expect(page('0.0', days, vals, uptime)).toEqual(bars(days, vals, uptime))
      expect(page('0.1', days, [...vals].reverse(), uptime)).toEqual(bars(days, [...vals].reverse(), uptime))
    }
  })

  it('the worst day is the first of equals, whether in the past or today', () => {
    const renderer = createBarsRenderer()
    const vals = D1.map((_, i) => (i === 10 || i === 89 ? 50 : 100))
    renderer('p')('x', D1, vals, 99)
    const kept = renderer('p')('x', D1, vals, 99)
    expect(kept).toEqual(bars(D1, vals, 99))
    expect(kept.label).toContain(`worst ${D1[10]} at 50.00 %`)
    const todayWorse = [...vals.slice(0, -1), 49]
    expect(renderer('p')('x', D1, todayWorse, 99).label).toContain(`worst ${D1[89]} at 49.00 %`)
  })

  it('a whole page renders the same with kept bars as without, render after render', () => {
    const renderer = createBarsRenderer()
    const view = (day89: number): PublicView => ({
      page: { slug: 'acme', title: 'Acme', logoText: '', footer: '' },
      status: 'operational',
      generatedAt: '2026-12-07T12:00:00.000Z',
      days: D1,
      groups: [0, 1].map((g) => ({
        name: `G${g}`,
        components: [0, 1, 2].map((c) => ({
          name: `S${g}.${c}`,
          status: 'operational' as const,
          uptime: 99.9,
          days: D1.map((_, i) => (i === 89 ? day89 : (i + c + g) % 13 === 0 ? 96 : 100)),
        })),
      })),
      incidents: { active: [], past: [] },
      maintenance: { active: [], upcoming: [], past: [] },
    })
    for (const today of [100, 100, 70, null as unknown as number]) {
      const v = view(today)
      expect(renderStatusHtml(v, renderer(v.page.slug))).toBe(renderStatusHtml(v))
    }
  })
})
