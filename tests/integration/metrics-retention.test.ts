import { count, eq, sql } from 'drizzle-orm'
import { minuteRollups } from '../helpers/rollup-rows.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rollups, series } from '../../db/schema/metrics.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { purgeExpired } from '../../app/modules/metrics/retention.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const DAY = 86_400_000
const NOW = Date.parse('2026-11-20T00:00:00Z')
let t: TestApp
beforeAll(async () => {
  t = await testApp()
})
afterAll(() => t.close())

describe('retention', () => {
  it('purges raw points and rollups past their retention, keeps the rest, and frees pages', async () => {
    const [mode] = await t.db.all<{ auto_vacuum: number }>(sql`pragma auto_vacuum`)
    expect(mode!.auto_vacuum).toBe(2) // incremental, chosen when the file was created
    const store = createMetricStore(t.db)
    // 10 days of one point a minute for 5 series, written as a backfill.
    const samples = []
    for (let s = 0; s < 5; s++)
      for (let ts = NOW - 10 * DAY; ts < NOW; ts += 60_000)
        samples.push({ name: 'host_cpu', labels: { host: `h${s}` }, value: s, ts })
    for (let i = 0; i < samples.length; i += 10_000) await store.write(samples.slice(i, i + 10_000), NOW)
    await runRollups(t.db, NOW, { maxSteps: 10_000 })
    const keep = { raw: 7, 60: 8, 3600: 9, 86_400: 730 }
    const counts = await purgeExpired(t.db, keep, NOW)
    expect(counts.points).toBe(5 * 3 * 1440)
    // The purge moved the inbox into chunks first and cut the chunk that straddled the cutoff.
    await moveInbox(t.db)
    const [oldestRaw] = await storedPoints(t.db)
    expect(oldestRaw!.ts).toBe(NOW - 7 * DAY)
    const oldest = async (res: number) =>
      res === 60
        ? Math.min(...(await minuteRollups(t.db)).map((r) => r.bucket))
        : (
            await t.db
              .select({ b: sql<number>`min(${rollups.bucket})` })
              .from(rollups)
              .where(eq(rollups.resolution, res))
          )[0]!.b
    expect(await oldest(60)).toBe(NOW - 8 * DAY)
    expect(await oldest(3600)).toBe(NOW - 9 * DAY)
    expect(await oldest(86_400)).toBe(NOW - 10 * DAY)
    expect(counts.vacuumed).toBeGreaterThan(0)
    // Running again finds nothing more to delete.
    expect(await purgeExpired(t.db, keep, NOW)).toMatchObject({ points: 0, rollups: 0 })
    // 10 days of rollups built from scratch: ≈ 30 s on main too with the 2 cores shared (load 20–30).
  }, 120_000)

  it('forgets a series that has nothing left', async () => {
    await createMetricStore(t.db).write(
      [{ name: 'old_metric', labels: {}, value: 1, ts: NOW - 900 * DAY }],
      NOW - 900 * DAY,
    )
    await purgeExpired(t.db, { raw: 7, 60: 30, 3600: 90, 86_400: 730 }, NOW)
    expect((await t.db.select({ n: count() }).from(series).where(eq(series.name, 'old_metric')))[0]!.n).toBe(0)
  })
})
