import { and, eq, inArray, lt } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { auditLog } from '../db/schema/audit.ts'
import { sessions, setupTokens } from '../db/schema/auth.ts'
import { breakerEvents, finalHealingStatuses, healingActions, modelRouteEvents } from '../db/schema/healing.ts'
import { jobRuns } from '../db/schema/system.ts'
import { days, hours } from '../app/lib/time.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

// auditRetentionDays: AUDIT_RETENTION_DAYS (365 when not given).
type Retention = { jobRunsRetentionDays: number; healingHistoryDays: number; auditRetentionDays?: number }

/**
 * Deletes expired sessions and setup links, old job runs, finished healing actions (their
 * timelines go with them), breaker and route history past its retention, and closes runs a crash
 * abandoned. Healing actions still open are kept whatever their age. Audit rows older than
 * AUDIT_RETENTION_DAYS go too: the log must not grow without bound, nor keep addresses forever.
 */
export function housekeepingJob({
  db,
  jobRunsRetentionDays,
  healingHistoryDays,
  auditRetentionDays = 365,
}: { db: Db } & Retention): JobDef {
  return {
    name: 'housekeeping',
    schedule: '0 */10 * * * *',
    async handler({ now }) {
      const expiredSessions = await db
        .delete(sessions)
        .where(lt(sessions.expiresAt, now))
        .returning({ id: sessions.id })
      const expiredSetup = await db
        .delete(setupTokens)
        .where(lt(setupTokens.expiresAt, now))
        .returning({ hash: setupTokens.tokenHash })
      const abandoned = await db
        .update(jobRuns)
        .set({ status: 'failed', finishedAt: now, error: 'abandoned: the instance stopped while it ran' })
        .where(and(eq(jobRuns.status, 'running'), lt(jobRuns.startedAt, now - hours(6))))
        .returning({ id: jobRuns.id })
      const oldRuns = await db
        .delete(jobRuns)
        .where(lt(jobRuns.startedAt, now - days(jobRunsRetentionDays)))
        .returning({ id: jobRuns.id })
      const healingBefore = now - days(healingHistoryDays)
      const oldActions = await db
        .delete(healingActions)
        .where(
          and(inArray(healingActions.status, [...finalHealingStatuses]), lt(healingActions.createdAt, healingBefore)),
        )
        .returning({ id: healingActions.id })
      const oldBreakerEvents = await db
        .delete(breakerEvents)
        .where(lt(breakerEvents.ts, healingBefore))
        .returning({ id: breakerEvents.id })
      const oldRouteEvents = await db
        .delete(modelRouteEvents)
        .where(lt(modelRouteEvents.ts, healingBefore))
        .returning({ id: modelRouteEvents.id })
      const oldAudit = await db
        .delete(auditLog)
        .where(lt(auditLog.ts, now - days(auditRetentionDays)))
        .returning({ id: auditLog.id })
      return {
        auditRowsDeleted: oldAudit.length,
        sessionsDeleted: expiredSessions.length,
        setupLinksDeleted: expiredSetup.length,
        runsAbandoned: abandoned.length,
        jobRunsDeleted: oldRuns.length,
        healingActionsDeleted: oldActions.length,
        breakerEventsDeleted: oldBreakerEvents.length,
        routeEventsDeleted: oldRouteEvents.length,
      }
    },
  }
}
