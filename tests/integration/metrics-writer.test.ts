import { count, sql } from 'drizzle-orm'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { pointBatches } from '../../db/schema/metrics.ts'
import { openDb, writerOf } from '../../db/client.ts'
import { moveInbox, readRaw } from '../../app/modules/metrics/inbox.ts'
import { createMetricStore, powerOfTwoChunks, type Sample } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

// On a local file the store writes through db/client.ts's writer: a second connection whose
// statements are prepared once, with power-of-two row counts so a few SQL texts serve every size.
const T0 = Date.parse('2026-11-20T00:00:00Z')
let t: TestApp
beforeEach(async () => {
  t = await testApp()
})
afterEach(() => t.close())

const inboxRows = async () =>
  Number((await t.db.select({ n: sql<number>`coalesce(sum(${pointBatches.n}), 0)` }).from(pointBatches))[0]!.n)

/** A finite double from random bits: every exponent (subnormals and the largest included) is as likely. */
function randomDouble(view: DataView) {
  for (;;) {
    view.setUint32(0, (Math.random() * 2 ** 32) >>> 0)
    view.setUint32(4, (Math.random() * 2 ** 32) >>> 0)
    const x = view.getFloat64(0)
    if (Number.isFinite(x)) return x
  }
}

describe('metric writer', () => {
  it('splits rows into power-of-two statements, largest first', () => {
    expect(powerOfTwoChunks(1000, 1024)).toEqual([512, 256, 128, 64, 32, 8])
    expect(powerOfTwoChunks(3000, 1024)).toEqual([1024, 1024, 512, 256, 128, 32, 16, 8])
    expect(powerOfTwoChunks(1, 1024)).toEqual([1])
    expect(powerOfTwoChunks(0, 1024)).toEqual([])
    for (const n of [1, 7, 999, 1024, 1025, 20_000])
      expect(powerOfTwoChunks(n, 1024).reduce((a, b) => a + b, 0)).toBe(n)
  })

  it('is used for a database on a local file', () => {
    expect(writerOf(t.db)).toBeDefined()
  })

  it('stores every double exactly, before and after the move (subnormals, extremes, -0)', async () => {
    const store = createMetricStore(t.db)
    const view = new DataView(new ArrayBuffer(8))
    const special = [
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      2.2250738585072014e-308,
      2.225073858507201e-308,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.EPSILON,
      0.1,
      1 / 3,
      2 ** 53 + 2,
      -(2 ** 63),
      1e21,
      // biome-ignore lint/correctness/noPrecisionLoss: 2^53 + 1 on purpose: it must round-trip as the double it becomes
      9007199254740993,
      0,
    ]
    const values = [...special, ...Array.from({ length: 20_000 - special.length - 1 }, () => randomDouble(view)), -0]
    // 20 series × 1 000 ms, in requests of 1 000 (one statement set each) and one of the rest.
    const samples: Sample[] = values.map((value, i) => ({
      name: 'exact',
      labels: { s: String(i % 20) },
      value,
      ts: T0 + Math.floor(i / 20),
    }))
    for (let i = 0; i < samples.length; i += 1000) await store.write(samples.slice(i, i + 1000), T0 + 2000)
    const ids = await store.seriesIds(samples.slice(0, 20), T0 + 2000)
    // Chunks keep the sign of -0 too (the old row table stored it as 0).
    const expected = new Map(samples.map((s, i) => [`${ids[i % 20]}:${s.ts}`, s.value]))
    const check = async () => {
      const got = await readRaw(t.db, ids, T0, T0 + 1000)
      expect(got.length).toBe(values.length)
      const wrong = got.filter((p) => !Object.is(p.value, expected.get(`${p.seriesId}:${p.ts}`)))
      expect(wrong).toEqual([])
    }
    await check()
    expect(await moveInbox(t.db)).toBe(values.length)
    await check()
  })

  it('the last value wins across statement boundaries and across requests committed together', async () => {
    const store = createMetricStore(t.db)
    // 1 500 points: 1 024 + 256 + 128 + 64 + 16 + 8 + 4 rows; the same series and ms at 0, 1 100 and 1 499.
    const batch: Sample[] = Array.from({ length: 1500 }, (_, i) => ({
      name: 'lw',
      labels: { s: String(i) },
      value: i,
      ts: T0,
    }))
    batch[1100] = { name: 'lw', labels: { s: '0' }, value: -1, ts: T0 }
    batch[1499] = { name: 'lw', labels: { s: '0' }, value: -2, ts: T0 }
    const second: Sample[] = [{ name: 'lw', labels: { s: '1' }, value: -3, ts: T0 }]
    // Series known beforehand, so both writes reach the commit queue in call order, in one turn.
    await store.write(
      batch.map((s) => ({ ...s, ts: T0 - 1 })),
      T0 + 1000,
    )
    const [r1] = await Promise.all([store.write(batch, T0 + 1000), store.write(second, T0 + 1000)])
    expect(r1.written).toBe(1498)
    const [s0, s1] = await store.seriesIds([batch[0]!, batch[1]!], T0)
    const got = await readRaw(t.db, [s0!, s1!], T0, T0 + 1)
    expect(new Map(got.map((p) => [p.seriesId, p.value]))).toEqual(
      new Map([
        [s0, -2],
        [s1, -3],
      ]),
    )
    // The inbox keeps each write as sent (one row each); readers and the mover resolve repeats.
    expect(await inboxRows()).toBe(1500 + 1500 + 1)
  })

  it('a write spanning several statements is all or nothing, and the statements stay usable after a failure', async () => {
    const store = createMetricStore(t.db)
    // Created on the other connection after the writer's statements were prepared: SQLite
    // re-prepares them, so the trigger applies. It refuses the series' touch, the statement after
    // the inbox row.
    await store.write([{ name: 'aon', labels: {}, value: 1, ts: T0 - 1 }], T0 + 1000)
    await t.db.run(
      sql.raw(
        `create trigger refuse_13 before update of last_seen_at on series when new.name = 'aon' and new.last_seen_at = ${T0 + 1001} begin select raise(abort, 'unlucky'); end`,
      ),
    )
    const batch: Sample[] = Array.from({ length: 1000 }, (_, i) => ({
      name: 'aon',
      labels: { s: String(i) },
      value: i,
      ts: T0,
    }))
    await expect(store.write(batch, T0 + 1001)).rejects.toThrow(/unlucky/)
    expect(await inboxRows()).toBe(1)
    expect((await store.write(batch, T0 + 1002)).written).toBe(1000)
    expect(await inboxRows()).toBe(1001)
  })

  it('closing the client closes the writer too: what was written stays, nothing more is written', async () => {
    const store = createMetricStore(t.db)
    await store.write([{ name: 'closed', labels: {}, value: 42, ts: T0 }], T0 + 1000)
    t.client.close()
    await expect(store.write([{ name: 'closed', labels: {}, value: 43, ts: T0 + 1 }], T0 + 1000)).rejects.toThrow(
      /closed/,
    )
    const again = await openDb({ url: t.config.DATABASE_URL })
    try {
      expect(await again.db.all<{ n: number }>(sql`select n from point_batches`)).toEqual([{ n: 1 }])
      expect((await readRaw(again.db, [1, 2, 3], T0, T0 + 2)).map((p) => p.value)).toEqual([42])
    } finally {
      again.client.close()
    }
  })
})
