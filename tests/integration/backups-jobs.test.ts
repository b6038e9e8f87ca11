import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq, inArray } from 'drizzle-orm'
import { afterEach, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { backups, backupTargets } from '../../db/schema/backups.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
afterEach(() => t?.close())

const DAY = 86_400_000

/** The app with a clock the test moves. */
async function withClock(start: number) {
  let now = start
  t = await testApp()
  // The same service as the root builds, over the same database, with this clock.
  const { backupCommands, createBackups } = await import('../../app/modules/backups/index.ts')
  const svc = createBackups({
    db: t.db,
    config: t.config,
    log: t.services.log,
    alerts: t.services.alerts,
    sealer: t.sealer,
    outbound: t.services.outbound,
    commands: backupCommands(t.config.BACKUP_COMMANDS_FILE),
    now: () => now,
  })
  return { svc, set: (ms: number) => (now = ms), get: () => now }
}

describe('the backups jobs', () => {
  it('runs a target when its schedule comes due, once; prunes past retention; raises backup_missed when overdue', async () => {
    const start = Date.parse('2026-12-01T12:00:00Z')
    const { svc, set } = await withClock(start)
    // The first tick starts the default target's clock: nothing is due yet.
    expect(await svc.runDue(start)).toEqual({ started: 0, failed: 0 })
    await t.db
      .update(backupTargets)
      .set({ keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 })
      .where(eq(backupTargets.id, 'homeostat'))
    // Three days of 03:00 backups; a second tick the same day starts nothing.
    for (let d = 1; d <= 3; d++) {
      const tick = Date.parse(`2026-12-0${d + 1}T03:00:30Z`)
      set(tick)
      expect(await svc.runDue(tick)).toEqual({ started: 1, failed: 0 })
      expect(await svc.runDue(tick + 60_000)).toEqual({ started: 0, failed: 0 })
    }
    const all = await t.db.select().from(backups)
    expect(all.map((b) => b.status)).toEqual(['good', 'good', 'good'])
    const tick = Date.parse('2026-12-04T04:20:00Z')
    set(tick)
    expect(await svc.maintain(tick)).toMatchObject({ pruned: 1, missed: 0, abandoned: 0 })
    const after = await t.db.select().from(backups)
    expect(after.map((b) => b.status).sort()).toEqual(['good', 'good', 'pruned'])
    const pruned = after.find((b) => b.status === 'pruned')!
    const files = readdirSync(join(t.dir, 'backups', 'homeostat'))
    expect(files.some((f) => f.startsWith(pruned.id))).toBe(false)
    expect(files).toHaveLength(4) // two backups and their manifests

    // Jobs stopped for three days: the last good is older than twice the daily interval.
    const late = Date.parse('2026-12-07T12:00:00Z')
    set(late)
    expect(await svc.maintain(late)).toMatchObject({ missed: 1 })
    const missed = (await t.db.select().from(alerts)).find((a) => a.labels.alertname === 'backup_missed')
    expect(missed).toMatchObject({ status: 'firing', labels: { target: 'homeostat' } })
    // The next good backup resolves it.
    expect(await svc.runDue(late)).toEqual({ started: 1, failed: 0 })
    const [resolved] = await t.db.select().from(alerts).where(eq(alerts.id, missed!.id))
    expect(resolved!.status).toBe('resolved')
  })

  it('marks a backup whose process died failed, and a disabled target is neither run nor missed', async () => {
    const start = Date.parse('2026-12-01T12:00:00Z')
    const { svc } = await withClock(start)
    await t.db.insert(backups).values({
      id: 'dead',
      targetId: 'homeostat',
      targetName: 'homeostat',
      kind: 'homeostat',
      status: 'running',
      trigger: 'cli',
      destinationKind: 'local',
      location: 'homeostat/dead.db.gz',
      createdBy: 'cli',
      startedAt: start - DAY,
    })
    await t.db
      .update(backupTargets)
      .set({ enabled: false, createdAt: start - 10 * DAY })
      .where(eq(backupTargets.id, 'homeostat'))
    expect(await svc.maintain(start)).toMatchObject({ abandoned: 1, missed: 0 })
    const [row] = await t.db.select().from(backups).where(eq(backups.id, 'dead'))
    expect(row).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) })
    expect(await svc.runDue(start + 30 * DAY)).toEqual({ started: 0, failed: 0 })
  })

  it('fails a running backup only once its heartbeat is stale, removing its partial files', async () => {
    const start = Date.parse('2026-12-01T12:00:00Z')
    const { svc } = await withClock(start)
    const row = (id: string, heartbeatAt: number) => ({
      id,
      targetId: 'homeostat',
      targetName: 'homeostat',
      kind: 'homeostat' as const,
      status: 'running' as const,
      trigger: 'cli' as const,
      destinationKind: 'local' as const,
      location: `homeostat/${id}.db.gz`,
      createdBy: 'cli',
      startedAt: start - 3_600_000,
      heartbeatAt,
    })
    // A long backup still beating (another instance's, say) and one whose process died 31 s ago.
    await t.db.insert(backups).values([row('alive', start - 4_000), row('dead2', start - 31_000)])
    const dir = join(t.config.DATA_DIR, 'backups', 'homeostat')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'dead2.db.gz.ab12cd.partial'), 'half')
    writeFileSync(join(dir, 'alive.db.gz.ef34gh.partial'), 'being written')
    expect(await svc.maintain(start)).toMatchObject({ abandoned: 1 })
    const rows = await t.db
      .select()
      .from(backups)
      .where(inArray(backups.id, ['alive', 'dead2']))
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ alive: 'running', dead2: 'failed' })
    expect(rows.find((r) => r.id === 'dead2')!.error).toMatch(/^interrupted: the process making it stopped/)
    expect(readdirSync(dir)).toEqual(['alive.db.gz.ef34gh.partial'])
  })

  it('are registered with the scheduler', async () => {
    t = await testApp()
    const names = (await t.scheduler.status()).jobs.map((j) => j.name)
    expect(names).toEqual(expect.arrayContaining(['backups', 'backup-retention', 'backup-drill']))
  })
})
