import { eq, sql } from 'drizzle-orm'
import { minuteRollups } from '../helpers/rollup-rows.ts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { rollups } from '../../db/schema/metrics.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
let t: TestApp
beforeEach(async () => {
  t = await testApp()
})
afterEach(() => t.close())

describe('rollups of many series', () => {
  // One step writes a bucket per active series and minute: more rows than one SQLite statement may
  // carry as parameters (32 766, 10 a row) must still be stored, all in the step's one batch.
  it('builds a step with more buckets than one statement can hold', async () => {
    const series = 4000
    const data: Sample[] = []
    for (let i = 0; i < series; i++)
      for (const m of [0, 1])
        data.push({ name: 'many_series', labels: { i: String(i) }, value: i + m, ts: T0 + m * 60_000 + 5_000 })
    const now = T0 + 2 * 3_600_000
    await createMetricStore(t.db).write(data, now)
    await runRollups(t.db, now)
    expect(await minuteRollups(t.db)).toHaveLength(series * 2)
    const hours = await t.db
      .select({ count: rollups.count, sum: rollups.sum })
      .from(rollups)
      .where(eq(rollups.resolution, 3600))
    expect(hours).toHaveLength(series)
    expect(hours.every((h) => h.count === 2)).toBe(true)
    expect(hours.reduce((a, h) => a + h.sum, 0)).toBe(data.reduce((a, d) => a + d.value, 0))
  })
})
