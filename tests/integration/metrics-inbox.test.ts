import { eq, sql } from 'drizzle-orm'
import { minuteRollups } from '../helpers/rollup-rows.ts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { pointBatches, pointChunks, rollups, series } from '../../db/schema/metrics.ts'
import { moveInbox, readRaw, startInboxMover } from '../../app/modules/metrics/inbox.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { until } from '../helpers/server.ts'
import { rawPages } from '../../app/modules/metrics/export.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

// Raw points are written to the inbox (point_batches) and moved into point_chunks later (app/modules/metrics/inbox.ts).
const T0 = Date.parse('2026-11-20T00:00:00Z')
const MIN = 60_000
let t: TestApp
let ingest: Record<string, string>
let viewer: Record<string, string>
beforeEach(async () => {
  t = await testApp()
  ingest = (await t.key('viewer', ['ingest'])).headers
  viewer = (await t.key('viewer')).headers
})
afterEach(() => t.close())

/** Points held by a table: chunks (moved) or inbox batches. */
const points = pointChunks
const pointsInbox = pointBatches
const rows = async (table: typeof pointChunks | typeof pointBatches) =>
  Number((await t.db.select({ n: sql<number>`coalesce(sum(${table.n}), 0)` }).from(table))[0]!.n)
const push = async (value: number, ts: number, name = 'inbox_metric') => {
  const res = await t.json('POST', '/api/v1/metrics', { name, value, ts, labels: { host: 'a' } }, ingest)
  expect(res.status).toBe(200)
}
/** Raw values through the query API: a 1 s step reads raw points only. */
async function rawValues(from: number, to: number, agg = 'last', name = 'inbox_metric') {
  const res = await t.app.request(`/api/v1/metrics/query?name=${name}&from=${from}&to=${to}&step=1s&agg=${agg}`, {
    headers: viewer,
  })
  expect(res.status).toBe(200)
  const body = (await res.json()) as { resolution: string; series: { values: [string, number][] }[] }
  expect(body.resolution).toBe('raw')
  return (body.series[0]?.values ?? []).map(([time, v]) => [Date.parse(time), v])
}
async function exported(from: number, to: number, name = 'inbox_metric') {
  const res = await t.app.request(`/api/v1/metrics/export?format=json&name=${name}&from=${from}&to=${to}`, {
    headers: viewer,
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { time: string; value: number }[]).map((r) => [Date.parse(r.time), r.value])
}

describe('points inbox', () => {
  it('reads see points that are still in the inbox: query, export, trends', async () => {
    await push(1, T0)
    await push(2, T0 + 1000)
    expect(await rows(pointsInbox)).toBe(2)
    expect(await rows(points)).toBe(0)
    expect(await rawValues(T0, T0 + 5000)).toEqual([
      [T0, 1],
      [T0 + 1000, 2],
    ])
    expect(await exported(T0, T0 + 5000)).toEqual([
      [T0, 1],
      [T0 + 1000, 2],
    ])
    // Half moved, half not: still one answer.
    expect(await moveInbox(t.db)).toBe(2)
    await push(3, T0 + 2000)
    expect([await rows(points), await rows(pointsInbox)]).toEqual([2, 1])
    expect(await rawValues(T0, T0 + 5000, 'count')).toEqual([
      [T0, 1],
      [T0 + 1000, 1],
      [T0 + 2000, 1],
    ])
    expect(await exported(T0, T0 + 5000)).toEqual([
      [T0, 1],
      [T0 + 1000, 2],
      [T0 + 2000, 3],
    ])
  })

  it('a retried write after a move is not a duplicate, and a later write overwrites across the two tables', async () => {
    await push(5, T0)
    await moveInbox(t.db)
    await push(5, T0) // the client retries
    expect(await rawValues(T0, T0 + 1000, 'count')).toEqual([[T0, 1]])
    await push(7, T0) // a new value for the same series and ms
    expect([await rows(points), await rows(pointsInbox)]).toEqual([1, 2])
    expect(await rawValues(T0, T0 + 1000, 'last')).toEqual([[T0, 7]])
    expect(await rawValues(T0, T0 + 1000, 'sum')).toEqual([[T0, 7]])
    expect(await exported(T0, T0 + 1000)).toEqual([[T0, 7]])
    await moveInbox(t.db)
    expect([await rows(points), await rows(pointsInbox)]).toEqual([1, 0])
    expect(await storedPoints(t.db)).toMatchObject([{ ts: T0, value: 7 }])
  })

  it('a move is one transaction: a failure part-way moves nothing and loses nothing', async () => {
    for (let i = 0; i < 5; i++) await push(i === 3 ? 666 : i, T0 + i * 1000)
    await push(100, T0 + 9000, 'other_metric')
    // A constraint that refuses one of the rows, as a full disk or a bug would part-way.
    await t.db.run(
      sql.raw(
        `create trigger refuse_666 before insert on point_chunks when new.series_id = (select id from series where name = 'other_metric') begin select raise(abort, 'injected failure'); end`,
      ),
    )
    await expect(moveInbox(t.db)).rejects.toThrow(/injected failure/)
    expect([await rows(points), await rows(pointsInbox)]).toEqual([0, 6])
    expect((await rawValues(T0, T0 + 5000)).map(([, v]) => v)).toEqual([0, 1, 2, 666, 4])
    await t.db.run(sql.raw('drop trigger refuse_666'))
    expect(await moveInbox(t.db)).toBe(6)
    expect([await rows(points), await rows(pointsInbox)]).toEqual([6, 0])
    expect((await rawValues(T0, T0 + 5000)).map(([, v]) => v)).toEqual([0, 1, 2, 666, 4])
  })

  it('moves the oldest batches first, whole, when the inbox holds more than one move takes', async () => {
    const store = createMetricStore(t.db)
    for (let b = 0; b < 3; b++)
      await store.write(
        Array.from({ length: 10 }, (_, i) => ({
          name: 'bulk',
          labels: { host: String(i) },
          value: b,
          ts: T0 + b * 1000,
        })),
        T0 + 10_000,
      )
    expect(await moveInbox(t.db, { maxRows: 15 })).toBe(20) // two batches: the second passes 15, it moves whole
    expect((await t.db.select({ ts: sql<number>`min(${pointBatches.minTs})` }).from(pointBatches))[0]!.ts).toBe(
      T0 + 2000,
    )
    expect(await moveInbox(t.db)).toBe(10)
    expect(await moveInbox(t.db)).toBe(0)
  })

  it('waits for enough points or an old enough batch before moving', async () => {
    await push(1, T0)
    const now = Date.now()
    expect(await moveInbox(t.db, { minRows: 100, maxAgeMs: 30_000, now })).toBe(0)
    expect(await rows(pointsInbox)).toBe(1)
    expect(await moveInbox(t.db, { minRows: 100, maxAgeMs: 30_000, now: now + 31_000 })).toBe(1)
  })

  it('export pages are whole and ordered when a series is split between points and the inbox', async () => {
    const store = createMetricStore(t.db)
    const write = (from: number, to: number, host: string) =>
      store.write(
        Array.from({ length: to - from }, (_, i) => ({
          name: 'paged',
          labels: { host },
          value: from + i,
          ts: T0 + (from + i) * 1000,
        })),
        T0 + 200_000,
      )
    await write(0, 30, 'a')
    await write(0, 10, 'b')
    await moveInbox(t.db)
    await write(30, 45, 'a')
    await write(10, 25, 'b')
    await write(5, 8, 'a') // overwrites, same values
    const ids = (
      await t.db
        .select({ id: series.id, host: sql<string>`json_extract(${series.labels}, '$.host')` })
        .from(series)
        .where(eq(series.name, 'paged'))
    ).sort((x, y) => x.id - y.id)
    const got: string[] = []
    for await (const page of rawPages(
      t.db,
      ids.map((s) => s.id),
      T0,
      T0 + 100_000,
      7,
    )) {
      expect(page.length).toBeLessThanOrEqual(7)
      got.push(...page.map((p) => `${p.seriesId}:${(p.ts - T0) / 1000}:${p.value}`))
    }
    const want = [
      ...ids.map((s) => Array.from({ length: s.host === 'a' ? 45 : 25 }, (_, i) => `${s.id}:${i}:${i}`)),
    ].flat()
    expect(got).toEqual(want)
  })

  it('late points in the inbox rebuild the rollups they fall in; moving them changes nothing', async () => {
    const store = createMetricStore(t.db)
    const now = T0 + 10 * MIN
    await store.write(
      Array.from({ length: 6 }, (_, i) => ({ name: 'late_metric', labels: {}, value: 10, ts: T0 + i * 10_000 })),
      T0 + 70_000,
    )
    await runRollups(t.db, now)
    const minute = async () => (await minuteRollups(t.db, undefined, T0, T0 + 1))[0]!
    expect(await minute()).toMatchObject({ resolution: 60, count: 6, sum: 60 })
    // A late point (and an overwrite) for the finished minute, written after the rollup and not moved.
    await store.write(
      [
        { name: 'late_metric', labels: {}, value: 40, ts: T0 + 5000 },
        { name: 'late_metric', labels: {}, value: 20, ts: T0 },
      ],
      now,
    )
    expect(await rows(pointsInbox)).toBeGreaterThan(0)
    expect((await runRollups(t.db, now)).rebuilt).toBeGreaterThan(0)
    const rebuilt = await minute()
    expect(rebuilt).toMatchObject({ count: 7, sum: 110, max: 40 })
    await moveInbox(t.db)
    expect(await runRollups(t.db, now)).toMatchObject({ rebuilt: 0 })
    expect(await minute()).toEqual(rebuilt)
  })

  it('writes that arrive together are answered each by its own outcome: one failing write does not fail the others', async () => {
    const store = createMetricStore(t.db)
    await t.db.run(
      sql.raw(
        `create trigger refuse_13 before insert on point_batches when new.min_ts = ${T0 + 1000} begin select raise(abort, 'unlucky'); end`,
      ),
    )
    const one = (value: number, ts: number) => store.write([{ name: 'grouped', labels: {}, value, ts }], T0 + MIN)
    const results = await Promise.allSettled([one(1, T0), one(13, T0 + 1000), one(2, T0 + 2000), one(3, T0)])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    // The later write of the same series and ms wins, even inside one commit.
    const [id] = await store.seriesIds([{ name: 'grouped', labels: {}, value: 0, ts: T0 }], T0)
    expect((await readRaw(t.db, [id!], T0, T0 + 5000)).map((r) => [r.ts - T0, r.value])).toEqual([
      [0, 3],
      [2000, 2],
    ])
  })

  it('the mover calls afterFullMove after each full move only (catching up), not after one that emptied the inbox', async () => {
    const store = createMetricStore(t.db)
    // Three writes of 10 points: moves of at most 15 take two batches (full), then the last one (not).
    for (let b = 0; b < 3; b++)
      await store.write(
        Array.from({ length: 10 }, (_, i) => ({ name: 'bulk', labels: { host: String(i) }, value: b, ts: T0 + b })),
        T0 + 10_000,
      )
    let calls = 0
    const mover = startInboxMover(t.db, {
      intervalMs: 50,
      minRows: 0,
      maxRows: 15,
      log: createLogger('silent'),
      afterFullMove: () => void calls++,
    })
    try {
      await until('inbox moved', async () => ((await rows(pointsInbox)) === 0 ? true : undefined))
    } finally {
      await mover.stop()
    }
    // Once: after the move of 20 points (full); the move of the last 10 emptied the inbox.
    expect(calls).toBe(1)
    expect(await rows(points)).toBe(30)
  })

  it("the server's mover empties the inbox on its own, and stops cleanly", async () => {
    await push(1, T0)
    await push(2, T0 + 1000)
    const mover = startInboxMover(t.db, { intervalMs: 100, minRows: 0, log: createLogger('silent') })
    try {
      await until('inbox moved', async () => ((await rows(pointsInbox)) === 0 ? true : undefined))
    } finally {
      await mover.stop()
    }
    expect(await rows(points)).toBe(2)
    await push(3, T0 + 2000) // after stop() nothing moves any more
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await rows(pointsInbox)).toBe(1)
  })
})
