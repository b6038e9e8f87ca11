import type { AlertsService } from '../app/modules/alerts/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/**
 * Re-checks open alerts as silences start and end (one-off and recurring windows): sets or
 * clears their `silenced` flag with a `silenced`/`unsilenced` event. Every 15 s.
 */
export const silencesJob = ({ alerts }: { alerts: Pick<AlertsService, 'refreshSilenced'> }): JobDef => ({
  name: 'silences',
  schedule: '*/15 * * * * *',
  leaseMs: 2 * 60_000,
  handler: ({ now }) => alerts.refreshSilenced(now),
})
