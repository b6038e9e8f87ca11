import type { JobDef } from '../app/lib/scheduler.ts'
import type { WorkflowHistory } from '../app/modules/backups/index.ts'

/** Pulls every n8n instance's workflows on WORKFLOW_PULL_CRON (default every 5 minutes). */
export const workflowPullJob = (wh: Pick<WorkflowHistory, 'pull'>, schedule: string): JobDef => ({
  name: 'workflow_pull',
  schedule,
  leaseMs: 15 * 60_000,
  handler: async ({ now }) => {
    const results = await wh.pull(now)
    return {
      instances: results.length,
      failed: results.filter((r) => r.error).length,
      created: results.reduce((n, r) => n + r.created, 0),
      calls: results.reduce((n, r) => n + r.calls, 0),
    }
  },
})
