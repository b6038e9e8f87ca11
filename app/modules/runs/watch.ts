/**
 * The `runs_watch` job's tick (docs/runs.md#stuck-stalled-over-budget): raises and resolves
 *
 * - `run_task_stuck`: a running task past its deadline: the explicit `deadlineAt`, else its attempt's
 *   start + p95 of its role's recent durations × the policy's `stuckFactor` (no deadline while the
 *   role has fewer than MIN_SAMPLES finished tasks: a guess from two runs would page people);
 * - `run_stalled`: a running run whose last progress is older than the policy's `stalledMinutes`;
 * - `run_over_budget`: a run not yet finished whose cost or time is over the policy's budget.
 *
 * Each resolves when its condition ends (the task moves on, the run progresses or ends). The job
 * takes the time as an argument; it is idempotent (an open alert is not raised twice).
 */
import { and, eq, gte, isNotNull, sql } from 'drizzle-orm'
import type { Run, RunPolicy } from '../../../db/schema/runs.ts'
import { runs, runTasks } from '../../../db/schema/runs.ts'
import { RUN_OVER_BUDGET, RUN_STALLED, RUN_TASK_STUCK, runAlert } from './alerts.ts'
import { isFinalRun } from './lifecycle.ts'
import { DEFAULT_POLICY } from './policy.ts'
import type { Runs } from './service.ts'

const MIN_SAMPLES = 5
const DURATION_WINDOW_MS = 7 * 86_400_000
const SAMPLES_PER_ROLE = 1000

/** p95 (nearest rank) of a role's finished tasks in the last week, per role asked; absent below MIN_SAMPLES. */
async function roleP95(svc: Pick<Runs, 'db'>, roles: string[], now: number) {
  const out = new Map<string, number>()
  for (const role of roles) {
    const rows = await svc.db
      .select({ d: sql<number>`${runTasks.endedAt} - ${runTasks.startedAt}` })
      .from(runTasks)
      .where(
        and(
          eq(runTasks.role, role),
          eq(runTasks.status, 'succeeded'),
          gte(runTasks.endedAt, now - DURATION_WINDOW_MS),
          isNotNull(runTasks.startedAt),
        ),
      )
      .limit(SAMPLES_PER_ROLE)
    const ds = rows.map((r) => Number(r.d)).filter((d) => d >= 0)
    if (ds.length < MIN_SAMPLES) continue
    ds.sort((a, b) => a - b)
    out.set(role, ds[Math.min(ds.length - 1, Math.ceil(0.95 * ds.length) - 1)]!)
  }
  return out
}

/**
 * The lowest stalled and budget limits any run can have by the defaults and the stored policies
 * (a run's own override is not among them: runs with one are always read). A run inside all of them
 * cannot be stalled or over budget, so the job does not read it.
 */
export function loosestLimits(stored: Iterable<RunPolicy>) {
  const all = [DEFAULT_POLICY, ...stored]
  const min = (pick: (p: RunPolicy) => number | undefined) =>
    Math.min(...all.map(pick).filter((x): x is number => x !== undefined))
  return {
    stalledMs: min((p) => p.stalledMinutes) * 60_000,
    durationMs: min((p) => p.budgetDurationMs),
    costUsd: min((p) => p.budgetCostUsd),
  }
}

export async function watchRuns(svc: Runs, now: number) {
  const { db, alerts } = svc
  const fp = alerts.labelsFingerprint
  const counts = { stuck: 0, unstuck: 0, stalled: 0, overBudget: 0, resolved: 0 }

  // Stuck tasks: every running one of a run that is not finished, and every one flagged before.
  const running = await db
    .select({ task: runTasks, run: runs })
    .from(runTasks)
    .innerJoin(runs, eq(runs.id, runTasks.runId))
    .where(eq(runTasks.status, 'running'))
  const roles = [...new Set(running.map((r) => r.task.role).filter((r): r is string => !!r))]
  const p95 = await roleP95(svc, roles, now)
  const stillStuck = new Set<string>()
  for (const { task, run } of running) {
    if (isFinalRun(run.status)) continue
    const policy = await svc.policyOf(run)
    const typical = task.role ? p95.get(task.role) : undefined
    const from = task.attemptStartedAt ?? task.startedAt
    const deadline =
      task.deadlineAt ?? (typical !== undefined && from != null ? from + typical * policy.stuckFactor : null)
    if (deadline == null || now <= deadline) continue
    stillStuck.add(`${task.runId}\u0000${task.id}`)
    if (task.stuckSince != null) continue
    const labels = { alertname: RUN_TASK_STUCK, run: task.runId, task: task.id, role: task.role ?? '' }
    await alerts.report(
      runAlert(fp, labels, true, `Task ${task.id} of run ${task.runId} is running past its deadline`, {
        deadline: new Date(deadline).toISOString(),
        basis: task.deadlineAt != null ? 'explicit' : `p95 of ${task.role} × ${policy.stuckFactor}`,
      }),
      now,
    )
    await db
      .update(runTasks)
      .set({ stuckSince: now })
      .where(and(eq(runTasks.runId, task.runId), eq(runTasks.id, task.id)))
    counts.stuck++
  }
  // run_tasks_stuck_idx: only the flagged tasks, whatever the number of tasks.
  const flagged = await db.select().from(runTasks).where(isNotNull(runTasks.stuckSince))
  for (const task of flagged) {
    if (stillStuck.has(`${task.runId}\u0000${task.id}`)) continue
    const labels = { alertname: RUN_TASK_STUCK, run: task.runId, task: task.id, role: task.role ?? '' }
    await alerts.report(runAlert(fp, labels, false, `Task ${task.id} of run ${task.runId}`), now)
    await db
      .update(runTasks)
      .set({ stuckSince: null })
      .where(and(eq(runTasks.runId, task.runId), eq(runTasks.id, task.id)))
    counts.unstuck++
  }

  // Stalled and over budget: runs not finished that could be past a limit (none of ours open yet),
  // and runs with an alert of ours still open (runs_alerted_idx), which may resolve. A run inside the
  // loosest limits is not read at all, so a tick costs what is due, not what is stored.
  const limits = loosestLimits((await svc.storedPolicies()).values())
  // The candidates' ids from runs_unflagged_open_idx alone (INDEXED BY: SQLite otherwise walks the
  // status index and reads every unfinished run's row), then their rows.
  const due = (await db.all(sql`SELECT id FROM runs INDEXED BY runs_unflagged_open_idx
    WHERE ${runs.status} IN ('running', 'escalated') AND ${runs.openAlerts} = '[]' AND (
      ${runs.lastProgressAt} <= ${now - limits.stalledMs} OR ${runs.startedAt} <= ${now - limits.durationMs}
      OR ${runs.costUsd} >= ${limits.costUsd} OR ${runs.policy} IS NOT NULL)`)) as { id: string }[]
  const open = due.length
    ? await db
        .select()
        .from(runs)
        .where(sql`${runs.id} IN (SELECT value FROM json_each(${JSON.stringify(due.map((r) => r.id))}))`)
    : []
  const flaggedRuns = await db.select().from(runs).where(sql`${runs.openAlerts} <> '[]'`)
  const byId = new Map<string, Run>([...open, ...flaggedRuns].map((r) => [r.id, r]))
  for (const run of byId.values()) {
    const policy = await svc.policyOf(run)
    const final = isFinalRun(run.status)
    const want = new Set<string>()
    if (!final && run.status === 'running' && now - run.lastProgressAt >= policy.stalledMinutes * 60_000)
      want.add(RUN_STALLED)
    if (!final && (run.costUsd >= policy.budgetCostUsd || now - run.startedAt >= policy.budgetDurationMs))
      want.add(RUN_OVER_BUDGET)
    const had = new Set(run.openAlerts)
    if ([...want].every((a) => had.has(a)) && [...had].every((a) => want.has(a))) continue
    for (const name of want) {
      if (had.has(name)) continue
      const title =
        name === RUN_STALLED
          ? `Run ${run.id} made no progress for ${policy.stalledMinutes} min`
          : `Run ${run.id} is over its budget ($${policy.budgetCostUsd}, ${policy.budgetDurationMs / 60_000} min)`
      await alerts.report(
        runAlert(fp, { alertname: name, run: run.id }, true, title, {
          cost_usd: run.costUsd.toFixed(4),
          last_progress: new Date(run.lastProgressAt).toISOString(),
        }),
        now,
      )
      counts[name === RUN_STALLED ? 'stalled' : 'overBudget']++
    }
    for (const name of had) {
      if (want.has(name)) continue
      await alerts.report(runAlert(fp, { alertname: name, run: run.id }, false, `Run ${run.id}`), now)
      counts.resolved++
    }
    await db
      .update(runs)
      .set({ openAlerts: [...want].sort() })
      .where(eq(runs.id, run.id))
  }
  return counts
}
