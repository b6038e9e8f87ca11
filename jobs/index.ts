import type { Services } from '../app/services.ts'
import { alertEvaluationJob } from './alerts.ts'
import { backupDrillJob, backupRetentionJob, backupsJob } from './backups.ts'
import { componentChecksJob } from './components.ts'
import { healingJob } from './healing.ts'
import { housekeepingJob } from './housekeeping.ts'
import { modelRouteProbesJob } from './model-route-probes.ts'
import { notificationsJob } from './notifications.ts'
import { retentionJob } from './retention.ts'
import { rollupJob } from './rollups.ts'
import { silencesJob } from './silences.ts'
import { workflowPullJob } from './workflow-pull.ts'
import { n8nPollJob } from './n8n-poll.ts'
import { runsWatchJob } from './runs.ts'
import { otlpSpansPurgeJob } from './otlp.ts'
import type { Scheduler } from '../app/lib/scheduler.ts'
import type { FrontTile } from '../app/lib/tiles.tsx'
import { frontSummariesJob } from './front-summaries.ts'

/** Every job the server runs. Each feature adds its jobs here. */
export function registerJobs(scheduler: Scheduler, services: Services, frontTiles: FrontTile[] = []) {
  const { db, config } = services
  scheduler.register(
    housekeepingJob({
      db,
      jobRunsRetentionDays: config.JOB_RUNS_RETENTION_DAYS,
      healingHistoryDays: config.HEALING_HISTORY_DAYS,
      auditRetentionDays: config.AUDIT_RETENTION_DAYS,
    }),
  )
  scheduler.register(rollupJob({ db }))
  scheduler.register(frontSummariesJob({ db, tiles: frontTiles }))
  scheduler.register(alertEvaluationJob(services))
  scheduler.register(notificationsJob(services))
  scheduler.register(silencesJob(services))
  scheduler.register(healingJob(services))
  scheduler.register(workflowPullJob(services.workflowHistory, config.WORKFLOW_PULL_CRON))
  scheduler.register(n8nPollJob(services.workflowHealth, config.N8N_POLL_CRON))
  // Status history is kept as long as the hourly rollups (RETENTION_1H_DAYS).
  scheduler.register(
    componentChecksJob({
      db,
      store: services.statusStore,
      outbound: services.outbound,
      historyDays: config.RETENTION_1H_DAYS,
      onOutcome: services.reportBreakerOutcome,
      // A component going up or down drops what the status pages cached.
      onStateChange: services.componentStateChanged,
    }),
  )
  if (config.MODEL_ROUTE_PROBE_INTERVAL_SECONDS > 0)
    scheduler.register(
      modelRouteProbesJob({
        healing: services.healing,
        intervalSeconds: config.MODEL_ROUTE_PROBE_INTERVAL_SECONDS,
      }),
    )
  scheduler.register(runsWatchJob(services.runs))
  scheduler.register(otlpSpansPurgeJob(services.otlpIntake))
  scheduler.register(backupsJob(services.backups))
  scheduler.register(backupRetentionJob(services.backups))
  scheduler.register(backupDrillJob(services.backups))
  scheduler.register(
    retentionJob({
      db,
      keep: {
        raw: config.RETENTION_RAW_DAYS,
        60: config.RETENTION_1M_DAYS,
        3600: config.RETENTION_1H_DAYS,
        86_400: config.RETENTION_1D_DAYS,
      },
    }),
  )
}
