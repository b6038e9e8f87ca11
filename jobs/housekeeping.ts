import { and, eq, lt } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { sessions, setupTokens } from '../db/schema/auth.ts'
import { jobRuns } from '../db/schema/system.ts'
import { days, hours } from '../app/lib/time.ts'
import type { JobDef } from './scheduler.ts'

/** Deletes expired sessions and setup links, old job runs, and closes runs a crash abandoned. */
export function housekeepingJob({ db, jobRunsRetentionDays }: { db: Db; jobRunsRetentionDays: number }): JobDef {
  return {
    name: 'housekeeping',
    schedule: '0 */10 * * * *',
    async handler({ now }) {
      const expiredSessions = await db.delete(sessions).where(lt(sessions.expiresAt, now)).returning({ id: sessions.id })
      const expiredSetup = await db.delete(setupTokens).where(lt(setupTokens.expiresAt, now)).returning({ hash: setupTokens.tokenHash })
      const abandoned = await db
        .update(jobRuns)
        .set({ status: 'failed', finishedAt: now, error: 'abandoned: the instance stopped while it ran' })
        .where(and(eq(jobRuns.status, 'running'), lt(jobRuns.startedAt, now - hours(6))))
        .returning({ id: jobRuns.id })
      const oldRuns = await db.delete(jobRuns).where(lt(jobRuns.startedAt, now - days(jobRunsRetentionDays))).returning({ id: jobRuns.id })
      return {
        sessionsDeleted: expiredSessions.length,
        setupLinksDeleted: expiredSetup.length,
        runsAbandoned: abandoned.length,
        jobRunsDeleted: oldRuns.length,
      }
    },
  }
}
