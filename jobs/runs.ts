import type { JobDef } from '../app/lib/scheduler.ts'
import { type Runs, watchRuns } from '../app/modules/runs/index.ts'

/** Stuck tasks, stalled runs and runs over budget raise and resolve their alerts (docs/runs.md). Every 30 s. */
export const runsWatchJob = (runs: Runs): JobDef => ({
  name: 'runs_watch',
  schedule: '*/30 * * * * *',
  leaseMs: 5 * 60_000,
  quietWhenIdle: true,
  // The runs it read are not a count of its own: a tick that only looked stays an idle (quiet) tick.
  handler: async ({ now }) => {
    const { checked: _checked, ...counts } = await watchRuns(runs, now)
    return counts
  },
})
