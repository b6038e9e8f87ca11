import type { JobDef } from '../app/lib/scheduler.ts'
import { type Runs, watchRuns } from '../app/modules/runs/index.ts'

/** Stuck tasks, stalled runs and runs over budget raise and resolve their alerts (docs/runs.md). Every 30 s. */
export const runsWatchJob = (runs: Runs): JobDef => ({
  name: 'runs_watch',
  schedule: '*/30 * * * * *',
  leaseMs: 5 * 60_000,
  quietWhenIdle: true,
  handler: ({ now }) => watchRuns(runs, now),
})
