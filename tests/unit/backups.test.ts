import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { localDestination } from '../../app/modules/backups/destinations/local.ts'
import { dbFilePath } from '../../app/modules/backups/sources/homeostat.ts'
import { toKeep } from '../../app/modules/backups/snapshots/retention.ts'
import { nextRun, previousRun } from '../../app/modules/backups/snapshots/schedule.ts'

const DAY = 86_400_000
const at = (iso: string) => Date.parse(iso)

describe('retention', () => {
  // One backup a day at 03:00 for 400 days, newest 2026-12-06.
  const daily = Array.from({ length: 400 }, (_, i) => ({
    id: `b${i}`,
    startedAt: at('2026-12-06T03:00:00Z') - i * DAY,
  }))

  it('keeps the last N, then the newest of each day, ISO week and month', () => {
    const keep = toKeep(daily, { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 })
    const days = [...keep]
      .map((id) => new Date(daily.find((b) => b.id === id)!.startedAt).toISOString().slice(0, 10))
      .sort()
    // 7 daily (12-06 back to 11-30), the newest of 4 ISO weeks (the current one counts: Sundays before it), and
    // of 6 months (December's newest counts, then the last days of November back to July).
    expect(days).toEqual([
      '2026-07-31',
      '2026-08-31',
      '2026-09-30',
      '2026-10-31',
      '2026-11-15',
      '2026-11-22',
      '2026-11-29',
      '2026-11-30',
      '2026-12-01',
      '2026-12-02',
      '2026-12-03',
      '2026-12-04',
      '2026-12-05',
      '2026-12-06',
    ])
  })

  it('keeps only the last N when no generations are asked for, and everything when there are fewer', () => {
    expect(toKeep(daily, { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 })).toEqual(new Set(['b0', 'b1']))
    expect(toKeep(daily.slice(0, 2), { keepLast: 7, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }).size).toBe(2)
    // Several a day: only the day's newest counts for the daily generation.
    const hourly = Array.from({ length: 48 }, (_, i) => ({
      id: `h${i}`,
      startedAt: at('2026-12-06T23:00:00Z') - i * 3_600_000,
    }))
    expect(toKeep(hourly, { keepLast: 1, keepDaily: 2, keepWeekly: 0, keepMonthly: 0 })).toEqual(new Set(['h0', 'h24']))
  })
})

describe('schedules', () => {
  it('finds the next and the previous run of a cron pattern in UTC', () => {
    const now = at('2026-12-06T12:00:00Z')
    expect(new Date(nextRun('0 3 * * *', now)!).toISOString()).toBe('2026-12-07T03:00:00.000Z')
    expect(new Date(previousRun('0 3 * * *', now)!).toISOString()).toBe('2026-12-06T03:00:00.000Z')
    expect(new Date(previousRun('0 0 1 * *', now)!).toISOString()).toBe('2026-12-01T00:00:00.000Z')
  })
})

describe('the homeostat source', () => {
  it('refuses a remote or in-memory database, saying what to use instead', () => {
    expect(dbFilePath('file:data/homeostat.db')).toBe('data/homeostat.db')
    expect(() => dbFilePath('libsql://db.example.turso.io')).toThrow(/local database file.*libsql:.*own backups/)
    expect(() => dbFilePath(':memory:')).toThrow(/local database file/)
  })
})

describe('the local destination', () => {
  let dir = ''
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('writes atomically: a stream that fails leaves nothing under the key, and no partial file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'homeostat-dest-'))
    const dest = localDestination(dir)
    async function* broken() {
      yield new Uint8Array([1, 2, 3])
      throw new Error('source died')
    }
    await expect(dest.put('t/a.db.gz', broken())).rejects.toThrow('source died')
    expect(readdirSync(join(dir, 't'))).toEqual([])
    async function* fine() {
      yield new Uint8Array([1, 2, 3])
      yield new Uint8Array([4])
    }
    expect(await dest.put('t/a.db.gz', fine())).toEqual({ size: 4 })
    expect(await dest.list('t/')).toEqual([{ key: 't/a.db.gz', size: 4 }])
    const back: number[] = []
    for await (const chunk of dest.get('t/a.db.gz')) back.push(...chunk)
    expect(back).toEqual([1, 2, 3, 4])
    await dest.remove('t/a.db.gz')
    expect(await dest.list('')).toEqual([])
  })

  it('refuses keys outside its folder', async () => {
    dir = mkdtempSync(join(tmpdir(), 'homeostat-dest-'))
    const dest = localDestination(dir)
    async function* one() {
      yield new Uint8Array([1])
    }
    await expect(dest.put('../escape', one())).rejects.toThrow(/Bad backup key/)
    await expect(dest.put('/etc/passwd', one())).rejects.toThrow(/Bad backup key/)
  })
})
