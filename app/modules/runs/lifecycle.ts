/**
 * The order statuses move in (docs/runs.md#out-of-order-updates). Reports from agents arrive late,
 * twice, or out of order (a `succeeded` before its `running`): a status only moves to a higher rank,
 * and a task's (attempt, rank) pair only grows, so a late `running` never undoes a `succeeded`, while
 * a new attempt starts the lifecycle again. The ranks are also written into SQL (see sqlRank), so the
 * merge happens in the upsert itself and two concurrent writers cannot lose each other's update.
 */
import { sql, type SQL } from 'drizzle-orm'
import type { RunStatus, TaskStatus } from '../../../db/schema/runs.ts'

/** `escalated` waits for a person, who may let the run go on: it ranks below the final states. */
export const runRank: Record<RunStatus, number> = { running: 0, escalated: 1, succeeded: 2, failed: 2, aborted: 2 }

export const taskRank: Record<TaskStatus, number> = {
  pending: 0,
  blocked: 1,
  running: 2,
  escalated: 3,
  succeeded: 4,
  failed: 4,
  skipped: 4,
}

/**
 * What every write to a run sets its `next_check_at` to: due at the runs_watch job's next tick,
 * whatever that tick's clock says (docs/adr/0015-runs-watch-next-check.md).
 */
export const CHECK_NOW = 0

export const isFinalTask = (s: TaskStatus) => taskRank[s] === 4
export const isFinalRun = (s: RunStatus) => runRank[s] === 2

/** The rank of a status column or value as a SQL CASE (statuses are fixed words: no parameters needed). */
export function sqlRank(ranks: Record<string, number>, column: SQL): SQL {
  const cases = Object.entries(ranks).map(([status, rank]) => sql`WHEN ${status} THEN ${sql.raw(String(rank))}`)
  return sql`(CASE ${column} ${sql.join(cases, sql` `)} ELSE -1 END)`
}

/** Whether an update (attempt, status) moves a task forward from (attempt, status). Pure; mirrors the SQL. */
export function taskMovesForward(
  from: { attempt: number; status: TaskStatus },
  to: { attempt?: number; status: TaskStatus },
): boolean {
  const attempt = to.attempt ?? from.attempt
  if (attempt !== from.attempt) return attempt > from.attempt
  return taskRank[to.status] > taskRank[from.status]
}
