import type { Db } from '../db/client.ts'
import { purgeExpired, type RetentionDays } from '../app/modules/metrics/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/** Deletes metrics past their retention, in small batches, and returns freed space. */
export const retentionJob = ({ db, keep }: { db: Db; keep: RetentionDays }): JobDef => ({
  name: 'retention',
  schedule: '0 7 * * * *', // hourly, off the hour
  leaseMs: 30 * 60_000,
  handler: ({ now }) => purgeExpired(db, keep, now),
})
