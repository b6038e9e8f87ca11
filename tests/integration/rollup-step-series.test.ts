import type { InStatement } from '@libsql/client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { eq } from 'drizzle-orm'
import { rollupMinutes, series } from '../../db/schema/metrics.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { readMinutes } from '../../app/modules/metrics/minutes.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { seriesWithPoints } from '../../app/modules/metrics/inbox.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

// The rollup job's minute step reads only the series with points in it (ADR 0033): found from the
// inbox and the chunks' end_ts index, not from every series seen lately.
const T0 = Date.parse('2026-11-20T00:00:00Z')
const MIN = 60_000
let t: TestApp
beforeEach(async () => {
  t = await testApp()
})
afterEach(() => t.close())

const point = (host: string, ts: number, value: number): Sample => ({
  name: 'agent_latency_ms',
  labels: { host },
  value,
  ts,
})

/** Each point written on time (at its own ts), as a live agent sends it. */
async function live(store: ReturnType<typeof createMetricStore>, host: string, from: number, to: number) {
  for (let ts = from; ts < to; ts += 15_000) await store.write([point(host, ts, (ts - T0) / 1000)], ts)
}

/** The series ids of every chunk read by series (`point_chunks where series_id in …`) while `run` runs. */
async function chunkReads(run: () => Promise<unknown>) {
  const client = t.db.$client
  const execute = client.execute.bind(client)
  const read = new Set<number>()
  client.execute = ((stmt: InStatement) => {
    if (typeof stmt === 'object' && /from point_chunks where series_id in/.test(stmt.sql))
      for (const a of stmt.args as number[]) if (Number.isInteger(a) && a < 1_000_000) read.add(a)
    return execute(stmt)
  }) as typeof client.execute
  try {
    await run()
  } finally {
    client.execute = execute
  }
  return read
}

const idOf = async (host: string) =>
  (await t.db.select({ id: series.id, labels: series.labels }).from(series)).find((s) => s.labels.host === host)!.id

describe('rollup steps read only the series with points in them', () => {
  it('leaves a series seen lately but without points in the step unread and unwritten', async () => {
    const store = createMetricStore(t.db)
    await live(store, 'busy', T0, T0 + 2 * MIN)
    await live(store, 'idle', T0, T0 + 2 * MIN)
    await moveInbox(t.db)
    await runRollups(t.db, T0 + 3 * MIN) // minutes 0 and 1 of both
    const busy = await idOf('busy')
    const idle = await idOf('idle')
    const idlePack = await t.db.select().from(rollupMinutes).where(eq(rollupMinutes.seriesId, idle))
    expect(idlePack).toHaveLength(1)

    // Only `busy` goes on; `idle` was seen a moment ago (as the job's old filter, last_seen_at, counted it).
    await live(store, 'busy', T0 + 2 * MIN, T0 + 10 * MIN)
    await t.db
      .update(series)
      .set({ lastSeenAt: T0 + 10 * MIN })
      .where(eq(series.id, idle))
    await moveInbox(t.db, { maxRows: 20 }) // some of busy's points in chunks, the rest still in the inbox
    const found = await seriesWithPoints(t.db, T0 + 2 * MIN, T0 + 10 * MIN)
    expect([...found.ids]).toEqual([busy])
    expect(found.batches.length).toBeGreaterThan(0)

    const read = await chunkReads(() => runRollups(t.db, T0 + 11 * MIN))
    expect(read.has(busy)).toBe(true)
    expect(read.has(idle)).toBe(false)
    expect(await t.db.select().from(rollupMinutes).where(eq(rollupMinutes.seriesId, idle))).toEqual(idlePack)
    const minutes = await readMinutes(t.db, [busy], T0, T0 + 60 * MIN)
    expect(minutes.map((m) => (m.bucket - T0) / MIN)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // Each minute from both sources (chunks and inbox): its four points, the last one's value.
    for (const m of minutes) expect(m).toMatchObject({ count: 4, last: (m.bucket - T0 + 45_000) / 1000 })
  })

  it('still rebuilds the minute of a late point, of a series no step reads', async () => {
    const store = createMetricStore(t.db)
    await live(store, 'busy', T0, T0 + 10 * MIN)
    await live(store, 'idle', T0, T0 + 2 * MIN)
    await runRollups(t.db, T0 + 11 * MIN)
    const idle = await idOf('idle')
    // A late point of `idle` in minute 5, behind the watermark: its write marks the minute dirty.
    await store.write([point('idle', T0 + 5 * MIN + 1000, 99)], T0 + 12 * MIN)
    await moveInbox(t.db)
    await runRollups(t.db, T0 + 13 * MIN)
    const minutes = await readMinutes(t.db, [idle], T0, T0 + 60 * MIN)
    expect(minutes.map((m) => (m.bucket - T0) / MIN)).toEqual([0, 1, 5])
    expect(minutes.at(-1)).toMatchObject({ count: 1, sum: 99, last: 99 })
  })

  it('finds a series whose late points land ahead of the watermark, by its inbox batch or its chunk', async () => {
    const store = createMetricStore(t.db)
    await live(store, 'busy', T0, T0 + 2 * MIN)
    await runRollups(t.db, T0 + 3 * MIN)
    // Points of a new series for minutes 3 and 4 arrive late, when the job has not built them yet.
    await store.write([point('late', T0 + 3 * MIN, 7), point('late', T0 + 4 * MIN, 8)], T0 + 8 * MIN)
    const late = await idOf('late')
    expect([...(await seriesWithPoints(t.db, T0 + 2 * MIN, T0 + 7 * MIN)).ids]).toContain(late)
    await moveInbox(t.db)
    expect([...(await seriesWithPoints(t.db, T0 + 2 * MIN, T0 + 7 * MIN)).ids]).toContain(late)
    expect([...(await seriesWithPoints(t.db, T0 + 5 * MIN, T0 + 7 * MIN)).ids]).not.toContain(late)
    await runRollups(t.db, T0 + 8 * MIN)
    const minutes = await readMinutes(t.db, [late], T0, T0 + 60 * MIN)
    expect(minutes.map((m) => [(m.bucket - T0) / MIN, m.sum])).toEqual([
      [3, 7],
      [4, 8],
    ])
  })
})
