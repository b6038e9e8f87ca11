/**
 * The status page's bars: consecutive days showing the same figure are one element spanning them
 * (class nN), a day that differs keeps its own element and title, and every day is in exactly one
 * element. With the past days kept (bars.ts `createBarsRenderer`): whatever changes between renders —
 * today's value joining or leaving the last run, a past day (a late result), the window moving to a new
 * day, days with no data, components moved — the HTML and the summary equal a render from scratch, and
 * so does the whole page. The JSON's runs (json.ts `dayRuns`) give back every day's figure.
 */
import { describe, expect, it } from 'vitest'
import { bars, createBarsRenderer } from '../../app/modules/status-pages/bars.ts'
import { dayRuns } from '../../app/modules/status-pages/json.ts'
import { renderStatusHtml } from '../../app/modules/status-pages/public-page.tsx'
import type { PublicView } from '../../app/modules/status-pages/view.ts'

const DAY = 86_400_000
const daysFrom = (first: number) =>
  Array.from({ length: 90 }, (_, i) => new Date(first + i * DAY).toISOString().slice(0, 10))
const D1 = daysFrom(Date.UTC(2026, 8, 9))
const D2 = daysFrom(Date.UTC(2026, 8, 10))

/** The elements of some bars: class, days spanned and title. */
const elements = (html: string) =>
  [...html.matchAll(/<i class="b (\w+)(?: n(\d+))?" title="([^"]*)"><\/i>/g)].map((m) => ({
    cls: m[1] ?? '',
    n: Number(m[2] ?? 1),
    title: m[3] ?? '',
  }))

describe('bars as runs', () => {
  it('a mostly-up component is a few elements; a bad day keeps its own bar and title', () => {
    const values: (number | null)[] = D1.map(() => 100)
    values[10] = 80
    values[11] = 97.5
    values[40] = 99.95
    values[41] = 99.95
    for (let i = 60; i < 70; i++) values[i] = null
    const b = bars(D1, values, 99.2)
    const els = elements(b.html)
    expect(b.html).toBe(
      els.map((e) => `<i class="b ${e.cls}${e.n > 1 ? ` n${e.n}` : ''}" title="${e.title}"></i>`).join(''),
    )
    expect(els).toEqual([
      { cls: 'ok', n: 10, title: `${D1[0]} to ${D1[9]}: 100 %` },
      { cls: 'bad', n: 1, title: `${D1[10]}: 80.00 %` },
      { cls: 'minor', n: 1, title: `${D1[11]}: 97.50 %` },
      { cls: 'ok', n: 28, title: `${D1[12]} to ${D1[39]}: 100 %` },
      // Days of the same class but another figure are a run of their own: no figure is lost.
      { cls: 'ok', n: 2, title: `${D1[40]} to ${D1[41]}: 99.95 %` },
      { cls: 'ok', n: 18, title: `${D1[42]} to ${D1[59]}: 100 %` },
      { cls: 'none', n: 10, title: `${D1[60]} to ${D1[69]}: no data` },
      { cls: 'ok', n: 20, title: `${D1[70]} to ${D1[89]}: 100 %` },
    ])
    expect(b.label).toBe(`Last 90 days: 99.20 % uptime, 2 days with downtime, worst ${D1[10]} at 80.00 %`)
  })

  it('every day is in one element, whatever the days hold', () => {
    const patterns: ((i: number) => number | null)[] = [
      () => 100,
      () => null,
      (i) => (i % 2 ? 100 : 50),
      (i) => (i % 7 === 0 ? null : i % 11 === 0 ? 96 : 100),
      (i) => Math.floor(i / 30) * 10,
    ]
    for (const p of patterns) {
      const values = D1.map((_, i) => p(i))
      const els = elements(bars(D1, values, null).html)
      expect(els.reduce((sum, e) => sum + e.n, 0)).toBe(90)
      // Neighbours always differ (otherwise they would be one run).
      for (let i = 1; i < els.length; i++)
        expect(els[i]!.title.split(': ')[1] === els[i - 1]!.title.split(': ')[1]).toBe(false)
    }
    expect(
      elements(
        bars(
          D1,
          D1.map(() => 100),
          100,
        ).html,
      ),
    ).toEqual([{ cls: 'ok', n: 90, title: `${D1[0]} to ${D1[89]}: 100 %` }])
    expect(bars([], [], null)).toEqual({ html: '', label: 'No data in the last 0 days' })
    expect(bars([D1[0]!], [42], 42).html).toBe(`<i class="b bad" title="${D1[0]}: 42.00 %"></i>`)
  })

  it("the JSON's runs hold every day's figure, in order", () => {
    const values: (number | null)[] = D1.map((_, i) => (i < 5 ? null : i === 50 ? 12.5 : i === 51 ? 12.5 : 100))
    const runs = dayRuns(values)
    expect(runs).toEqual([
      [5, null],
      [45, 100],
      [2, 12.5],
      [38, 100],
    ])
    expect(runs.flatMap(([n, u]) => Array<number | null>(n).fill(u))).toEqual(values)
    expect(dayRuns([])).toEqual([])
  })
})

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
    steps.push([D2, [...D2.slice(1).map(() => 100), 99], 99.9]) // today leaves the last run
    steps.push([D2, D2.map(() => 100), 100]) // and joins it again
    steps.push([D2, [...D2.slice(1).map(() => null), 100], 100]) // today after days with no data
    steps.push([D2, D2.map(() => null), null]) // today joins the days with no data
    for (const [days, vals, uptime] of steps) {
      const page = renderer('acme')
      expect(page('0.0', days, vals, uptime)).toEqual(bars(days, vals, uptime))
      expect(page('0.1', days, [...vals].reverse(), uptime)).toEqual(bars(days, [...vals].reverse(), uptime))
    }
    // One day only, and none: nothing kept to join.
    expect(renderer('acme')('0.0', [D1[0]!], [100], 100)).toEqual(bars([D1[0]!], [100], 100))
    expect(renderer('acme')('0.0', [], [], null)).toEqual(bars([], [], null))
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
