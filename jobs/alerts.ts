import type { AlertsService } from '../app/modules/alerts/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/** Evaluates every enabled alert rule at the tick's time. Every 15 s. */
export const alertEvaluationJob = ({ alerts }: { alerts: Pick<AlertsService, 'evaluateAll'> }): JobDef => ({
  name: 'alert-evaluation',
  schedule: '*/15 * * * * *',
  leaseMs: 2 * 60_000,
  handler: ({ now }) => alerts.evaluateAll(now),
})
