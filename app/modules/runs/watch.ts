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
import { and, eq, gte, isNotNull, lte, sql } from 'drizzle-orm'
import type { Run } from '../../../db/schema/runs.ts'
import { runs, runTasks } from '../../../db/schema/runs.ts'
import { settings } from '../../../db/schema/system.ts'
import { RUN_OVER_BUDGET, RUN_STALLED, RUN_TASK_STUCK, runAlert } from './alerts.ts'
import { CHECK_NOW, isFinalRun } from './lifecycle.ts'
import type { EffectivePolicy } from './policy.ts'
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

/** The settings row holding the stored policies (JSON) the open runs' next checks were computed under. */
const APPLIED_KEY = 'runs_watch.applied_policies'

/** Runs written back per statement after a tick looked at them. */
const WRITE_CHUNK = 2000

/**
 * When a run must be looked at again if nothing writes to it: the moment its stalled or duration
 * limit passes, for each alert not already open; null when neither can come by time alone (a
 * finished run, or one flagged for both). Cost, status and progress change only by a write.
 */
export function nextCheck(
  run: Pick<Run, 'status' | 'lastProgressAt' | 'startedAt'>,
  policy: Pick<EffectivePolicy, 'stalledMinutes' | 'budgetDurationMs'>,
  open: Set<string>,
): number | null {
  if (isFinalRun(run.status)) return null
  const at: number[] = []
  if (run.status === 'running' && !open.has(RUN_STALLED)) at.push(run.lastProgressAt + policy.stalledMinutes * 60_000)
  if (!open.has(RUN_OVER_BUDGET)) at.push(run.startedAt + policy.budgetDurationMs)
  return at.length ? Math.min(...at) : null
}

export async function watchRuns(svc: Runs, now: number) {
  const { db, alerts } = svc
  const fp = alerts.labelsFingerprint
  // `checked`: the runs this tick read for stalled and over budget (the due ones).
  const counts = { stuck: 0, unstuck: 0, stalled: 0, overBudget: 0, resolved: 0, checked: 0 }

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

  // Stalled and over budget: only the runs that are due (runs_check_idx), so a tick over a big,
  // quiet table reads nothing. A write makes a run due at once (CHECK_NOW); after looking, the job
  // sets the time its next limit passes, or null when only a write can change its alerts (a flagged
  // run stays flagged until then). Stored policies other than those the last pass applied make
  // every unfinished or flagged run due once.
  const stored = await svc.storedPolicies()
  const applied = JSON.stringify([...stored].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  if (svc.watch.appliedPolicies !== applied) {
    // What the last pass (of any instance) applied is kept in settings, so a restart under the same
    // policies costs no pass; the mark and the record commit together.
    const [last] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, APPLIED_KEY))
    if (last?.value !== applied)
      await db.batch([
        db.run(sql`UPDATE runs SET next_check_at = ${CHECK_NOW}
          WHERE (${runs.status} IN ('running', 'escalated') OR ${runs.openAlerts} <> '[]')
            AND (${runs.nextCheckAt} IS NULL OR ${runs.nextCheckAt} > ${CHECK_NOW})`),
        db
          .insert(settings)
          .values({ key: APPLIED_KEY, value: applied, updatedAt: now })
          .onConflictDoUpdate({ target: settings.key, set: { value: applied, updatedAt: now } }),
      ])
    svc.watch.appliedPolicies = applied
  }
  const due = await db.select().from(runs).where(lte(runs.nextCheckAt, now))
  counts.checked = due.length
  // [id, updated_at seen, next check, open alerts]: written back in a few statements, not one per run.
  const looked: [string, number, number | null, string][] = []
  for (const run of due) {
    const policy = await svc.policyOf(run)
    const final = isFinalRun(run.status)
    const want = new Set<string>()
    if (!final && run.status === 'running' && now - run.lastProgressAt >= policy.stalledMinutes * 60_000)
      want.add(RUN_STALLED)
    if (!final && (run.costUsd >= policy.budgetCostUsd || now - run.startedAt >= policy.budgetDurationMs))
      want.add(RUN_OVER_BUDGET)
    const had = new Set(run.openAlerts)
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
    looked.push([run.id, run.updatedAt, nextCheck(run, policy, want), JSON.stringify([...want].sort())])
  }
  for (let i = 0; i < looked.length; i += WRITE_CHUNK) {
    // A write that landed since the run was read (its updated_at moved) made it due again: that
    // mark is kept, so the next tick looks at what it changed.
    await db.run(sql`UPDATE runs SET open_alerts = j.value ->> 3,
        next_check_at = CASE WHEN runs.updated_at = j.value ->> 1 THEN j.value ->> 2 ELSE runs.next_check_at END
      FROM json_each(${JSON.stringify(looked.slice(i, i + WRITE_CHUNK))}) AS j WHERE runs.id = j.value ->> 0`)
  }
  return counts
}
