import type { Db } from '../db/client.ts'
import { runRollups } from '../app/modules/metrics/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/** Builds 1m, 1h and 1d rollups from where the last run stopped. */
export const rollupJob = ({ db }: { db: Db }): JobDef => ({
  name: 'rollups',
  schedule: '*/30 * * * * *',
  leaseMs: 10 * 60_000,
  handler: ({ now }) => runRollups(db, now),
})
