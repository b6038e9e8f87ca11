/**
 * The components overview's uptime reads whole days from `status_daily` (ADR 0021) and only the
 * partial first day from `status_history` (`uptimeSince`): the same answers as summing every result
 * (`uptimes`), checked on four days of results written through the real path (`recordResult`, the
 * trigger fills the day rows), for windows starting before, on and after midnights, across gaps
 * longer than the cap, and within today.
 */
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { components } from '../../db/schema/components.ts'
import { overview } from '../../app/modules/components/overview.ts'
import { recordResult } from '../../app/modules/components/service.ts'
import { uptimeSince, uptimes } from '../../app/modules/components/uptime.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const DAY = 86_400_000
const MIN = 60_000
const NOW = Date.parse('2026-11-21T09:30:00Z')
let t: TestApp
let ids: string[]

/** A deterministic sequence in [0, 1): the same results every run. */
function random(seed: number) {
  let x = seed
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648
    return x / 2_147_483_648
  }
}

beforeAll(async () => {
  t = await testApp()
  const op = (await t.key('operator')).headers
  const store = createMetricStore(t.db)
  ids = []
  // Two push components (a result holds at most interval + grace) and one with no results at all.
  for (const [name, interval, seed] of [
    ['daily-a', 20 * 60, 7],
    ['daily-b', 45 * 60, 11],
    ['daily-none', 60, 3],
  ] as const) {
    const res = await t.json(
      'POST',
      '/api/v1/components',
      { name, kind: 'service', push: { expectedIntervalSeconds: interval, graceSeconds: 60 } },
      op,
    )
    const made = (await res.json()) as { id: string }
    ids.push(made.id)
    if (name === 'daily-none') continue
    const [row] = await t.db.select().from(components).where(eq(components.id, made.id))
    const next = random(seed)
    // Four days and a bit of results, every 1–60 minutes, now and then a gap of hours (Homeostat down),
    // mostly up; a result lands exactly on a midnight once.
    let ts = NOW - 4 * DAY - 5 * 60 * MIN
    const times: number[] = []
    while (ts < NOW - MIN) {
      times.push(ts)
      ts += next() < 0.03 ? 3 * 60 * MIN * (1 + next()) : MIN * (1 + Math.floor(next() * 60))
    }
    times.push(Math.floor((NOW - 2 * DAY) / DAY) * DAY)
    times.sort((a, b) => a - b)
    for (const at of times) await recordResult({ db: t.db, store }, row!, { ts: at, up: next() > 0.15, source: 'push' })
  }
}, 120_000)
afterAll(() => t.close())

describe('uptime over whole days from status_daily', () => {
  it('answers what summing every result answers, for windows across and within days', async () => {
    const midnight = Math.floor(NOW / DAY) * DAY
    const starts = [
      NOW - 30 * DAY, // before every result
      NOW - 4 * DAY,
      NOW - 3 * DAY - 7 * MIN,
      midnight - 2 * DAY, // exactly on a midnight (a result is there too)
      midnight - 2 * DAY + 1,
      midnight - DAY - 1,
      NOW - DAY, // the overview's 24 h
      midnight, // today only
      NOW - 60 * MIN, // within today
    ]
    for (const from of starts) {
      const want = await uptimes(t.db, [NOW - from], NOW, ids)
      const got = await uptimeSince(t.db, from, NOW, ids)
      for (const id of ids) {
        const [w] = want.get(id) ?? [null]
        const [g] = got.get(id) ?? [null]
        expect(g ?? null, `${new Date(from).toISOString()} ${id}`).toBe(w ?? null)
      }
      // Every component (no id list) is the same as the ones asked by id.
      const all = await uptimeSince(t.db, from, NOW)
      for (const id of ids) expect(all.get(id)?.[0] ?? null).toBe(got.get(id)?.[0] ?? null)
    }
    // The answers are not trivially equal: something between 0 and 100, and none for no results.
    const [week] = (await uptimeSince(t.db, NOW - 7 * DAY, NOW, ids)).get(ids[0]!)!
    expect(week).toBeGreaterThan(50)
    expect(week).toBeLessThan(100)
    expect((await uptimeSince(t.db, NOW - 7 * DAY, NOW, ids)).get(ids[2]!)).toBeUndefined()
  })

  it('gives the overview the same uptime as before for 24 h and 7 days', async () => {
    for (const range of [DAY, 7 * DAY]) {
      const view = await overview(t.db, range, NOW)
      const from = Math.floor((NOW - range) / 3_600_000) * 3_600_000
      const want = await uptimes(t.db, [NOW - from], NOW, ids)
      for (const item of view.components.filter((i) => ids.includes(i.id)))
        expect(item.uptime ?? null, `${range} ${item.name}`).toBe(want.get(item.id)?.[0] ?? null)
    }
  })
})
