/**
 * The status pages' bars with each component's past days kept between builds
 * (components/daily-uptimes.ts): whatever happens to the history — results today, a result recorded
 * days after the state it closes began, pruning, the day changing, components added and dropped,
 * overlapping calls — its answer equals `dailyUptimes`' read of every day from the database.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDailyUptimes, dailyUptimes } from '../../app/modules/components/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, unknown>
const DAY = 86_400_000
const HOUR = 3_600_000
const MIN = 60_000
const NOW = Date.UTC(2026, 11, 7, 12)
const TODAY = Math.floor(NOW / DAY) * DAY
let t: TestApp
let admin: Record<string, string>
const ids: string[] = []

beforeAll(async () => {
  t = await testApp({}, { now: () => NOW })
  admin = (await t.key('admin')).headers
  for (const name of ['kept-a', 'kept-b', 'kept-c']) {
    const push = { expectedIntervalSeconds: 3600, graceSeconds: 600 }
    const res = await t.json('POST', '/api/v1/components', { name, kind: 'service', push }, admin)
    expect(res.status).toBe(201)
    ids.push(((await res.json()) as Json).id as string)
  }
  // Ten days of results at uneven times, some down, up to an hour ago.
  for (const [n, id] of ids.entries()) {
    let ts = TODAY - 10 * DAY + n * 11 * MIN
    let up = 1
    while (ts < NOW - HOUR) {
      const held = (41 + ((ts / MIN) % 53)) * MIN
      await history(id, ts, up, held)
      ts += held
      up = (ts / MIN) % 5 < 2 ? 0 : 1
    }
  }
})
afterAll(() => t.close())

/** A result closing a state that began at `prev` and held `held` ms (the trigger adds it to prev's day). */
const history = (id: string, prev: number, prevUp: number, held: number) =>
  t.db.run(sql`insert into status_history (component_id, ts, up, source, prev_ts, prev_up, held_ms)
    values (${id}, ${prev + held}, 1, 'push', ${prev}, ${prevUp}, ${held})`)
const lastCheck = (id: string, at: number, status: 'up' | 'down') =>
  t.db.run(sql`update components set last_check_at = ${at}, status = ${status} where id = ${id}`)

describe('the kept past days', () => {
  it('equal a full read across results today, late results, pruning, a new day and changing component lists', async () => {
    const kept = createDailyUptimes()
    const same = async (list: string[], now: number) => {
      const [a, b] = await Promise.all([kept(t.db, list, 90, now), dailyUptimes(t.db, list, 90, now)])
      expect([...a.entries()]).toEqual([...b.entries()])
      return a
    }
    const first = await same(ids, NOW)
    expect(first.get(ids[0]!)!.days.filter((d) => d !== null && d < 100).length).toBeGreaterThan(0)
    expect(await same(ids, NOW)).toEqual(first) // kept, nothing changed

    // A result today and a latest result (the tail up to now).
    await history(ids[0]!, NOW - 30 * MIN, 0, 20 * MIN)
    await lastCheck(ids[0]!, NOW - 10 * MIN, 'up')
    const today = await same(ids, NOW)
    expect(today.get(ids[0]!)!.days.at(-1)).not.toBe(first.get(ids[0]!)!.days.at(-1))

    // A result recorded today closing a down state that began three days ago: that past day moves.
    const before = today.get(ids[1]!)!.days.at(-4)
    await history(ids[1]!, TODAY - 3 * DAY + 23 * HOUR, 0, 70 * MIN)
    const late = await same(ids, NOW)
    expect(late.get(ids[1]!)!.days.at(-4)).not.toBe(before)
    expect(late.get(ids[2]!)).toEqual(today.get(ids[2]!))

    // The retention prunes the oldest days.
    await t.db.run(sql`delete from status_daily where day < ${TODAY / DAY - 8}`)
    const pruned = await same(ids, NOW)
    expect(pruned.get(ids[0]!)!.days.at(-10)).toBeNull()

    // The next day: the window moves by one; then a day with nothing new in it.
    await same(ids, NOW + DAY)
    await same(ids, NOW + DAY + 5 * MIN)

    // Fewer components, more again, one asked for twice in overlapping calls, none.
    await same([ids[2]!], NOW + DAY)
    await same([ids[0]!, ids[2]!], NOW + DAY)
    const [x, y] = await Promise.all([kept(t.db, ids, 90, NOW + DAY), kept(t.db, [ids[1]!], 90, NOW + DAY)])
    expect(x.get(ids[1]!)).toEqual(y.get(ids[1]!))
    expect((await kept(t.db, [], 90, NOW)).size).toBe(0)
  })

  it('a component with no history has 90 grey days, as with the full read', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/components',
      { name: 'kept-new', kind: 'service', push: { expectedIntervalSeconds: 60, graceSeconds: 30 } },
      admin,
    )
    const id = ((await res.json()) as Json).id as string
    const kept = createDailyUptimes()
    const a = await kept(t.db, [id, ids[0]!], 90, NOW)
    expect(a.get(id)).toEqual({ days: Array(90).fill(null), total: null })
    expect([...a.entries()]).toEqual([...(await dailyUptimes(t.db, [id, ids[0]!], 90, NOW)).entries()])
  })
})
