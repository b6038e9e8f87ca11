import type { JobDef } from '../app/lib/scheduler.ts'
import type { WorkflowHealth } from '../app/modules/n8n/index.ts'

/** Reads every n8n instance's new executions and workflow states on N8N_POLL_CRON (default every minute). */
export const n8nPollJob = (health: Pick<WorkflowHealth, 'poll'>, schedule: string): JobDef => ({
  name: 'n8n_poll',
  schedule,
  leaseMs: 10 * 60_000,
  handler: async ({ now }) => {
    const results = await health.poll(now)
    return {
      instances: results.length,
      unreachable: results.filter((r) => !r.reachable).length,
      executions: results.reduce((n, r) => n + r.executions, 0),
      calls: results.reduce((n, r) => n + r.calls, 0),
    }
  },
})
