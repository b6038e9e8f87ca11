import type { JobDef } from '../app/lib/scheduler.ts'
import type { BackupsService } from '../app/modules/backups/index.ts'
import { hours } from '../app/lib/time.ts'

/**
 * Every minute: starts the backups of targets whose schedule came due, and waits for them (the lease
 * covers a long snapshot, so no other instance starts the same one).
 */
export const backupsJob = (backups: BackupsService): JobDef => ({
  name: 'backups',
  schedule: '0 * * * * *',
  leaseMs: hours(2),
  quietWhenIdle: true,
  handler: ({ now }) => backups.runDue(now),
})

/** Hourly: retention per target, backups cut off by a dead process marked failed, `backup_missed`. */
export const backupRetentionJob = (backups: BackupsService): JobDef => ({
  name: 'backup-retention',
  schedule: '0 20 * * * *',
  leaseMs: hours(1),
  handler: ({ now }) => backups.maintain(now),
})

/** Daily at 04:30 UTC (after the 03:00 backup): a restore drill of the latest good snapshot, timed. */
export const backupDrillJob = (backups: BackupsService): JobDef => ({
  name: 'backup-drill',
  schedule: '0 30 4 * * *',
  leaseMs: hours(1),
  async handler() {
    const row = await backups.runDrill({ id: 'scheduler', name: 'scheduler' }).catch((error) => {
      // No good backup yet is not a failure of the drill.
      if ((error as { code?: string }).code === 'no_backup') return null
      throw error
    })
    if (row?.status === 'failed') throw new Error(`restore drill failed: ${row.error}`)
    return { drills: row ? 1 : 0, durationMs: row?.durationMs ?? 0 }
  },
})
