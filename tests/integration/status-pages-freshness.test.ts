/**
 * How fresh the public status page stays now that an aged page is checked rather than rebuilt: the
 * bars come from per-day sums a trigger keeps (status_daily), a result recorded after its day ended
 * still reaches that day's bar, a change this process is not told about (another instance) shows
 * within the check interval (10 s), and a check that finds nothing changed keeps the answers it has.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dailyUptimes } from '../../app/modules/components/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, any>
const DAY = 86_400_000
const HOUR = 3_600_000
const MIN = 60_000
// 7 Dec 2026 12:00 UTC, moved on by the tests (never back: the rate limits run on it too).
let clock = Date.UTC(2026, 11, 7, 12)
const TODAY = Math.floor(clock / DAY) * DAY
let t: TestApp
let admin: Record<string, string>

beforeAll(async () => {
  t = await testApp({}, { now: () => clock })
  admin = (await t.key('admin')).headers
})
afterAll(() => t.close())

const pub = async (path: string, headers: Record<string, string> = {}) => t.app.request(path, { headers })
const pageJson = async (slug: string) => {
  const res = await pub(`/status/${slug}.json`)
  expect(res.status).toBe(200)
  return (await res.json()) as Json
}
/** A component's days from the JSON's `[days, uptime]` runs: one figure a day. */
const everyDay = (runs: [number, number | null][]) => runs.flatMap(([n, u]) => Array<number | null>(n).fill(u))
/** Asks until `ok` holds, at most `tries` times: a check runs behind the visitor that started it. */
async function eventually<T>(ask: () => Promise<T>, ok: (v: T) => boolean, tries = 50): Promise<T> {
  let v = await ask()
  for (let i = 1; i < tries && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 20))
    v = await ask()
  }
  return v
}
async function component(name: string, push = { expectedIntervalSeconds: 3600, graceSeconds: 600 }) {
  const res = await t.json('POST', '/api/v1/components', { name, kind: 'service', push }, admin)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Json
}
async function page(slug: string, ids: string[]) {
  const groups = [{ name: 'G', components: ids.map((componentId, i) => ({ componentId, displayName: `Thing ${i}` })) }]
  const res = await t.json('POST', '/api/v1/status-pages', { slug, title: slug, published: true, groups }, admin)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Json
}
const push = async (c: Json, status: 'up' | 'down') =>
  expect((await pub(`/api/v1/push/${c.push.token}?status=${status}`)).status).toBe(200)

describe('the bars from the per-day sums', () => {
  it('equal the status history summed by the day each state began, for every writer', async () => {
    const a = await component('daily-a')
    const b = await component('daily-b')
    // Five days of results at uneven times, some down, some closing a state begun the day before.
    const rows: [string, number, number, number][] = [] // component, prev_ts, prev_up, held
    for (const [n, c] of [a, b].entries()) {
      let ts = TODAY - 5 * DAY + n * 7 * MIN
      let up = 1
      while (ts < TODAY - HOUR) {
        const held = (37 + ((ts / MIN) % 50)) * MIN
        rows.push([c.id, ts, up, held])
        ts += held
        up = (ts / MIN) % 7 < 2 ? 0 : 1
      }
    }
    for (const [id, prev, prevUp, held] of rows)
      await t.db.run(sql`insert into status_history (component_id, ts, up, source, prev_ts, prev_up, held_ms)
        values (${id}, ${prev + held}, 1, 'push', ${prev}, ${prevUp}, ${held})`)
    const bars = await dailyUptimes(t.db, [a.id, b.id], 90, clock)
    for (const c of [a, b]) {
      const expected = Array.from({ length: 90 }, (_, i) => {
        const day = TODAY - (89 - i) * DAY
        const mine = rows.filter(([id, prev]) => id === c.id && prev >= day && prev < day + DAY)
        const known = mine.reduce((s, r) => s + r[3], 0)
        const up = mine.reduce((s, r) => s + (r[2] ? r[3] : 0), 0)
        return known ? Math.round((up / known) * 1_000_000) / 10_000 : null
      })
      expect(bars.get(c.id)!.days).toEqual(expected)
      expect(expected.filter((d) => d !== null && d < 100).length).toBeGreaterThan(0)
    }
  })

  it('a result recorded after its day ended reaches that day: the state it closes began then', async () => {
    const c = await component('late')
    await page('late', [c.id])
    // Two days on: "yesterday" is 8 Dec, "today" 9 Dec.
    const today = TODAY + 2 * DAY
    const yesterday = today - DAY
    clock = yesterday + 22 * HOUR
    await push(c, 'up')
    clock = yesterday + 23 * HOUR
    await push(c, 'down')
    // Just after midnight, before the next result: yesterday up 1 h, down 1 h (until midnight).
    clock = today + 20 * MIN
    t.services.statusPages.cache.invalidateAll()
    let bar = everyDay((await pageJson('late')).groups[0].components[0].runs)
    expect(bar.at(-2)).toBe(50)
    expect(bar.at(-1)).toBe(0)
    // The next result, today: the down state it closes began yesterday, so it all counts there.
    clock = today + 30 * MIN
    await push(c, 'up')
    clock = today + 40 * MIN
    bar = everyDay((await pageJson('late')).groups[0].components[0].runs)
    expect(bar.at(-2)).toBe(40) // up 1 h of 2.5 h
    expect(bar.at(-1)).toBe(100)
  })

  it('the checks job prunes the day sums with the history', async () => {
    const c = await component('old')
    const old = clock - 100 * DAY
    await t.db.run(sql`insert into status_history (component_id, ts, up, source, prev_ts, prev_up, held_ms)
      values (${c.id}, ${old + HOUR}, 1, 'push', ${old}, 1, ${HOUR}),
        (${c.id}, ${clock - 10 * MIN}, 1, 'push', ${clock - 20 * MIN}, 1, ${10 * MIN})`)
    const days = async () =>
      (
        await t.db.all<{ day: number }>(sql`select day from status_daily where component_id = ${c.id} order by day`)
      ).map((r) => r.day)
    expect(await days()).toEqual([Math.floor(old / DAY), Math.floor(clock / DAY)])
    expect(await t.scheduler.runTick('component-checks', clock)).toBe('ran')
    expect(await days()).toEqual([Math.floor(clock / DAY)])
  })
})

describe('staleness', () => {
  it('a component down behind this process shows within 10 s; checks finding nothing keep the answer', async () => {
    const c = await component('fresh')
    await page('fresh', [c.id])
    await push(c, 'up')
    // A minute up, so today's bar has something to show (at the push itself it is empty).
    clock += MIN
    const first = await pub('/status/fresh')
    const body = await first.text()
    const etag = first.headers.get('etag')!
    expect(body).toContain('Operational')
    // Checked at 10 s and 20 s: nothing changed, so the same bytes (the same "as of") and ETag.
    for (const step of [10_001, 10_001]) {
      clock += step
      await pub('/status/fresh')
      const again = await eventually(
        () => pub('/status/fresh'),
        () => !t.services.statusPages.cache.checking('fresh'),
      )
      expect(again.headers.get('etag')).toBe(etag)
      expect(await again.text()).toBe(body)
    }
    // After a minute the answers are made again with a new "as of", under the same ETag.
    clock += 45_000
    await pub('/status/fresh')
    const later = await eventually(
      () => pub('/status/fresh').then(async (r) => ({ etag: r.headers.get('etag'), body: await r.text() })),
      (r) => r.body !== body,
    )
    expect(later.etag).toBe(etag)
    expect(later.body).toContain(`As of <time datetime="${new Date(clock).toISOString()}"`)
    // Another instance records the component down: this process is not told.
    await t.db.run(sql`update components set status = 'down', status_since = ${clock} where id = ${c.id}`)
    clock += 5_000
    expect((await pageJson('fresh')).groups[0].components[0].status).toBe('operational')
    clock += 5_001
    const seen = await eventually(
      () => pageJson('fresh'),
      (v) => v.groups[0].components[0].status === 'outage',
    )
    expect(seen.groups[0].components[0].status).toBe('outage')
    expect(seen.status).toBe('outage')
  })
})
