/**
 * A failure report and its decision (docs/runs.md#decisions), escalation to a person and the
 * person's choice (docs/runs.md#escalation). One failure report per (run, task, attempt): the same
 * report again answers the stored decision and counts nothing twice. The report, the task's new
 * state, a branch task and the run's escalation are written in one batch.
 */
import { and, eq, inArray, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { asInStatements, toStatement, type TxnStatement } from '../../../db/txn-thread.ts'
import type { WebhookEventName } from '../../../db/schema/notify.ts'
import { type HumanChoice, type Run, runFailures, type RunTask, runs, runTasks } from '../../../db/schema/runs.ts'
import { conflict } from '../../lib/errors.ts'
import type { AlertsService } from '../alerts/index.ts'
import { RUN_ESCALATED, runAlert } from './alerts.ts'
import { CHECK_NOW } from './lifecycle.ts'
import type { FailureInput } from './input.ts'
import { type Decision, decide, type EffectivePolicy } from './policy.ts'
import { getRun } from './read.ts'
import type { Classify, TaskWrite } from './write.ts'

type Stmt = BatchItem<'sqlite'>

export type DecisionDeps = {
  db: Db
  alerts: Pick<AlertsService, 'report' | 'labelsFingerprint'>
  publish: (event: WebhookEventName, data: Record<string, unknown>, at: number) => Promise<void>
  classify: Classify
  policyOf: (run: Run | undefined) => Promise<EffectivePolicy>
  /** The statements of a record (write.ts prepareBatch), to commit with the failure in one batch. */
  prepare: (input: { tasks: TaskWrite[] }, at: number, known: RunTask[]) => Promise<{ statements: TxnStatement[] }>
}

export type FailureAnswer = Decision & { runId: string; taskId: string; at: string }

const answerOf = (runId: string, taskId: string, d: Record<string, unknown>, at: number) =>
  ({ ...d, runId, taskId, at: new Date(at).toISOString() }) as FailureAnswer

/** What a task not recorded yet is taken to be until its own write arrives. */
const unseenTask = (runId: string, id: string, attempt: number, now: number): RunTask => ({
  runId,
  id,
  role: null,
  title: null,
  parentId: null,
  dependsOn: [],
  branchOf: null,
  depth: 0,
  attempt,
  status: 'pending',
  startedAt: null,
  endedAt: null,
  attemptStartedAt: null,
  deadlineAt: null,
  model: null,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  costGiven: false,
  error: null,
  failureClass: null,
  input: null,
  output: null,
  links: [],
  stuckSince: null,
  createdAt: now,
  updatedAt: now,
})

export function createDecisions(deps: DecisionDeps) {
  const { db } = deps

  async function storedAnswer(runId: string, taskId: string, attempt: number) {
    const [row] = await db
      .select()
      .from(runFailures)
      .where(and(eq(runFailures.runId, runId), eq(runFailures.taskId, taskId), eq(runFailures.attempt, attempt)))
    return row ? answerOf(runId, taskId, row.decision, row.at) : undefined
  }

  /** Records a failed attempt and answers what to do (retry, branch, escalate). Idempotent per attempt. */
  async function reportFailure(runId: string, taskId: string, f: FailureInput, now: number): Promise<FailureAnswer> {
    // The run, the task and a failure already recorded for this attempt, in one read (the hot path).
    const [ctx] = await db
      .select({ run: runs, task: runTasks, failure: runFailures })
      .from(runs)
      .leftJoin(runTasks, and(eq(runTasks.runId, runs.id), eq(runTasks.id, taskId)))
      .leftJoin(
        runFailures,
        and(
          eq(runFailures.runId, runs.id),
          eq(runFailures.taskId, taskId),
          eq(runFailures.attempt, f.attempt !== undefined ? sql`${f.attempt}` : sql`coalesce(${runTasks.attempt}, 1)`),
        ),
      )
      .where(eq(runs.id, runId))
    const attempt = f.attempt ?? ctx?.task?.attempt ?? 1
    if (ctx?.failure) return answerOf(runId, taskId, ctx.failure.decision, ctx.failure.at)
    // A failure about a task (or run) not recorded yet, its create still on the way: the failure's
    // own write below creates it (and its run), in the same batch.
    const task = ctx?.task ?? unseenTask(runId, taskId, attempt, now)
    const run = ctx?.run ?? undefined
    const cls =
      f.class ?? (await deps.classify({ error: f.error, role: task.role, attributes: f.attributes ?? undefined }))
    const policy = await deps.policyOf(run)
    const spent = (run?.costUsd ?? 0) + Math.max(0, (f.costUsd ?? 0) - task.costUsd)
    const decision = decide({
      policy,
      cls,
      attempt,
      task,
      run: { costUsd: spent, startedAt: run?.startedAt ?? now },
      now,
    })
    // The task's own report of the failure merges like any write (out of order, idempotent), and
    // commits in one batch with the failure record and the escalation: one transaction per report.
    const prepared = await deps.prepare(
      {
        tasks: [
          {
            runId,
            id: taskId,
            attempt,
            status: 'failed',
            error: f.error,
            failureClass: cls,
            endedAt: f.endedAt ?? now,
            model: f.model,
            inputTokens: f.inputTokens,
            outputTokens: f.outputTokens,
            costUsd: f.costUsd,
          },
          ...(decision.action === 'branch'
            ? [
                {
                  runId,
                  id: decision.task.id,
                  role: decision.task.role,
                  depth: decision.task.depth,
                  branchOf: taskId,
                  parentId: task.parentId,
                  dependsOn: task.dependsOn,
                  title: `${decision.task.role}: ${cls} in ${taskId}`.slice(0, 500),
                  status: 'pending' as const,
                },
              ]
            : []),
        ],
      },
      now,
      [task],
    )
    const statements: TxnStatement[] = [
      ...prepared.statements,
      db
        .insert(runFailures)
        .values({
          runId,
          taskId,
          attempt,
          role: task.role,
          model: f.model ?? task.model,
          class: cls,
          error: f.error.slice(0, 20_000),
          decision: decision as unknown as Record<string, unknown>,
          at: now,
        })
        .onConflictDoNothing()
        .returning({ at: runFailures.at }),
    ].map(toStatement)
    // Where the failure's insert is once each of the record's rows is a statement of the client's batch.
    const failureAt = asInStatements(prepared.statements).length
    if (decision.action === 'escalate')
      statements.push(...escalateStatements(runId, taskId, decision, now).map(toStatement))
    // On the client's connection (the result of the failure's insert tells a repeated report), as one transaction.
    const results = await db.$client.batch(asInStatements(statements), 'write')
    // Two identical reports at once: the one whose record was written answers; the other reads it.
    if (!results[failureAt]!.rows.length) return (await storedAnswer(runId, taskId, attempt))!
    if (decision.action === 'escalate') await announceEscalation(runId, taskId, decision.reason, cls, now)
    return answerOf(runId, taskId, decision as unknown as Record<string, unknown>, now)
  }

  function escalateStatements(runId: string, taskId: string, d: Decision, now: number): Stmt[] {
    return [
      db
        .update(runTasks)
        .set({ status: 'escalated', updatedAt: now })
        .where(and(eq(runTasks.runId, runId), eq(runTasks.id, taskId))),
      db
        .update(runs)
        .set({
          status: 'escalated',
          escalation: { reason: d.reason, taskId, class: d.class, at: now },
          decision: null,
          lastProgressAt: now,
          updatedAt: now,
          nextCheckAt: CHECK_NOW,
        })
        // A run that already ended stays ended: a late failure report does not reopen it.
        .where(and(eq(runs.id, runId), inArray(runs.status, ['running', 'escalated']))),
    ]
  }

  async function announceEscalation(runId: string, taskId: string | null, reason: string, cls: string, now: number) {
    const labels = { alertname: RUN_ESCALATED, run: runId }
    await deps.alerts.report(
      runAlert(deps.alerts.labelsFingerprint, labels, true, `Run ${runId} needs a person: ${reason}`, {
        task: taskId ?? '',
        class: cls,
        reason,
      }),
      now,
    )
    await deps.publish('run.escalated', { run: runId, task: taskId, class: cls, reason }, now)
  }

  /**
   * A person's choice for an escalated run: `retry` lets the run go on (the orchestrator retries),
   * `abort` ends it, `take_over` leaves it escalated with the person in charge. Resolves the alert,
   * and the choice goes to the orchestrator (GET …/decision) and to `run.decided` subscribers.
   */
  async function choose(runId: string, action: HumanChoice, note: string | null, by: string, now: number) {
    const run = await getRun(db, runId)
    if (run.status !== 'escalated' || run.decision)
      throw conflict(
        run.decision
          ? `Run ${runId} was already decided (${run.decision.action} by ${run.decision.by})`
          : `Run ${runId} is ${run.status}, not waiting for a person`,
      )
    const decision = { action, note, by, at: now }
    const status = action === 'retry' ? 'running' : action === 'abort' ? 'aborted' : 'escalated'
    const ended = action === 'abort' ? { endedAt: now } : {}
    const updated = await db
      .update(runs)
      .set({ decision, status, ...ended, lastProgressAt: now, updatedAt: now, nextCheckAt: CHECK_NOW })
      .where(and(eq(runs.id, runId), sql`${runs.decision} IS NULL`))
      .returning({ id: runs.id })
    if (!updated.length) throw conflict(`Run ${runId} was already decided`)
    await deps.alerts.report(
      runAlert(deps.alerts.labelsFingerprint, { alertname: RUN_ESCALATED, run: runId }, false, `Run ${runId}`),
      now,
    )
    await deps.publish(
      'run.decided',
      { run: runId, action, note, by, task: run.escalation?.taskId ?? null, reason: run.escalation?.reason ?? null },
      now,
    )
    return { ...run, decision, status: status as Run['status'] }
  }

  /** What the orchestrator asks while a run waits: pending, the person's choice, or nothing to wait for. */
  async function decisionOf(runId: string) {
    const run = await getRun(db, runId)
    const state = run.decision ? 'decided' : run.status === 'escalated' ? 'pending' : 'none'
    return {
      runId,
      state,
      status: run.status,
      escalation: run.escalation ? { ...run.escalation, at: new Date(run.escalation.at).toISOString() } : null,
      decision: run.decision ? { ...run.decision, at: new Date(run.decision.at).toISOString() } : null,
    }
  }

  return { reportFailure, choose, decisionOf }
}
