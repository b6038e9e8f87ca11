import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createDiskWatch, diskFullError, isDiskFull } from '../../app/lib/disk-full.ts'

describe('isDiskFull', () => {
  it('finds SQLITE_FULL or ENOSPC anywhere along the cause chain', () => {
    const driver = Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' })
    expect(isDiskFull(new Error('Failed query: insert …', { cause: driver }))).toBe(true)
    expect(isDiskFull(Object.assign(new Error('write failed'), { code: 'ENOSPC' }))).toBe(true)
    expect(isDiskFull(new Error('SqliteError: database or disk is full'))).toBe(true)
  })
  it('leaves other errors alone', () => {
    expect(isDiskFull(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(false)
    expect(isDiskFull(new Error('UNIQUE constraint failed: alerts.fingerprint'))).toBe(false)
    expect(isDiskFull('not an error')).toBe(false)
  })
  it('answers 507 disk_full with Retry-After', () => {
    const e = diskFullError()
    expect(e).toMatchObject({ status: 507, code: 'disk_full' })
    expect(Number(e.headers?.['Retry-After'])).toBeGreaterThan(0)
  })
})

describe('createDiskWatch', () => {
  it('is not full until a write fails', () => {
    expect(createDiskWatch().status()).toEqual({ full: false })
  })
  it('without statfs, stays full for a minute after the last failure', () => {
    let now = 1_000_000
    const watch = createDiskWatch({ now: () => now })
    watch.noteFull()
    expect(watch.status()).toMatchObject({ full: true, detail: expect.stringMatching(/^disk full: .*SQLITE_FULL/) })
    now += 59_000
    expect(watch.status().full).toBe(true)
    now += 2_000
    expect(watch.status()).toEqual({ full: false })
  })
  it('with a data folder that has room, a failure is over as soon as it is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeostat-disk-'))
    try {
      const watch = createDiskWatch({ dataDir: dir })
      watch.noteFull()
      // A real folder on this machine has more than a megabyte free: the space came back.
      expect(watch.status()).toEqual({ full: false })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
