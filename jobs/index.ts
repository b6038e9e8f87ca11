import type { Db } from '../db/client.ts'
import type { Config } from '../app/config.ts'
import { housekeepingJob } from './housekeeping.ts'
import { rollupJob } from './rollups.ts'
import type { Scheduler } from './scheduler.ts'

/** Every job the server runs. Each feature adds its jobs here. */
export function registerJobs(scheduler: Scheduler, { db, config }: { db: Db; config: Config }) {
  scheduler.register(housekeepingJob({ db, jobRunsRetentionDays: config.JOB_RUNS_RETENTION_DAYS }))
  scheduler.register(rollupJob({ db }))
}
