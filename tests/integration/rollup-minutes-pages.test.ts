/**
 * Where a minute pack lives (ADR 0030): `rollup_minutes` is a rowid table with a unique (series, hour)
 * index, so a pack of full-precision, widely spread values (well over the ≈ 1,000 B a WITHOUT ROWID row
 * keeps in its page) stays in its leaf page instead of spilling to overflow pages; rewriting an hour
 * replaces its row through the unique index (the job's upsert), and a second row for the same series and
 * hour is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Minute } from '../../app/modules/metrics/minute-pack.ts'
import { minuteWrites, readMinutes } from '../../app/modules/metrics/minutes.ts'
import { addValue, emptySketch, encodeSketch } from '../../app/modules/metrics/sketch.ts'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'

const MIN = 60_000
const T0 = Date.parse('2026-11-20T10:00:00Z')

let state = 7
const random = () => {
  state = (state * 1_103_515_245 + 12_345) % 2 ** 31
  return state / 2 ** 31
}

/** An hour of minutes, four full-precision values each spread over six decades: large sketches and numbers. */
function hourOfMinutes(): Minute[] {
  return Array.from({ length: 60 }, (_, k) => {
    const values = Array.from({ length: 4 }, () => 10 ** (random() * 6) * (1 + random()))
    const sketch = emptySketch()
    for (const v of values) addValue(sketch, v)
    return {
      bucket: T0 + k * MIN,
      count: 4,
      sum: values.reduce((a, b) => a + b, 0),
      min: Math.min(...values),
      max: Math.max(...values),
      last: values[3]!,
      lastTs: T0 + k * MIN + 45_000 + Math.floor(random() * 1000),
      sketch: encodeSketch(sketch),
    }
  })
}

let dir: string
let opened: Awaited<ReturnType<typeof openDb>>
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homeostat-minute-pages-'))
  opened = await openDb({ url: `file:${join(dir, 'test.db')}` })
  await runMigrations(opened.db)
})
afterEach(() => {
  opened.client.close()
  rmSync(dir, { recursive: true, force: true })
})

const one = async (sql: string) => (await opened.client.execute(sql)).rows[0]!

async function write(seriesId: number, minutes: Minute[]) {
  for (const s of await minuteWrites(
    opened.db,
    minutes.map((m) => ({ seriesId, ...m })),
  ))
    await s
}

describe('rollup_minutes pages', () => {
  it('keeps a large pack in its leaf page and rewrites an hour in place', async () => {
    const first = hourOfMinutes()
    for (let s = 1; s <= 12; s++) await write(s, s === 1 ? first : hourOfMinutes())
    const big = await one('select min(length(data)) as lo, max(length(data)) as hi from rollup_minutes')
    expect(Number(big.lo)).toBeGreaterThan(1500) // each pack would spill out of a WITHOUT ROWID page
    expect(Number(big.hi)).toBeLessThan(4000)
    const overflow = await one(
      "select count(*) as n from dbstat where name = 'rollup_minutes' and pagetype = 'overflow'",
    )
    expect(Number(overflow.n)).toBe(0)

    // The job's rewrite of an hour: the upsert's conflict target is the unique index, one row stays.
    const again = hourOfMinutes()
    await write(1, again)
    expect(Number((await one('select count(*) as n from rollup_minutes where series_id = 1')).n)).toBe(1)
    expect(Number((await one('select count(*) as n from rollup_minutes')).n)).toBe(12)
    const read = await readMinutes(opened.db, [1], T0, T0 + 60 * MIN)
    // Compared as plain bytes: the stored sketch comes back as a Buffer view of the pack.
    expect(read.map(({ seriesId, ...m }) => ({ ...m, sketch: [...m.sketch] }))).toEqual(
      again.map((m) => ({ ...m, sketch: [...m.sketch] })),
    )
  })

  it('refuses a second row for the same series and hour', async () => {
    await write(3, hourOfMinutes())
    await expect(
      opened.client.execute({
        sql: "insert into rollup_minutes (series_id, hour, n, data) values (3, ?, 1, x'00')",
        args: [T0],
      }),
    ).rejects.toThrow(/UNIQUE constraint failed: rollup_minutes\.series_id, rollup_minutes\.hour/)
    expect(Number((await one('select count(*) as n from rollup_minutes')).n)).toBe(1)
  })
})
