/**
 * Recording runs and tasks: single writes and batches go through `recordBatch`, which turns them into
 * one atomic batch of upserts (all written or none). Each upsert merges in SQL (lifecycle.ts), so the
 * order reports arrive in, a retry of the same report, or a concurrent writer never loses a state:
 * statuses move forward only, start times keep the earliest, end times the latest, token counts the
 * largest (agents report running totals per task). A task whose run is not known yet creates the run
 * (its create may still be on the way); the run's totals are recomputed from its tasks in the same batch.
 */
import { and, eq, inArray, or, sql, type SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { type RunFailureClass, type RunTask, runs, runTasks, type TaskStatus } from '../../../db/schema/runs.ts'
import type { Prices } from '../components/index.ts'
import type { RunInput, TaskInput } from './input.ts'
import { runRank, sqlRank, taskRank } from './lifecycle.ts'

export type RunWrite = RunInput & { id: string }
export type TaskWrite = TaskInput & {
  runId: string
  id: string
  attributes?: Record<string, string | number | boolean>
}
export type Classify = (f: {
  error: string
  role: string | null
  attributes?: Record<string, string | number | boolean>
}) => Promise<RunFailureClass>

export type WriteDeps = {
  db: Db
  prices: Pick<Prices, 'priceAt'>
  /** Gives a failed task with an error and no class its class (classify.ts with the users' rules). */
  classify: Classify
}

export type Stmt = BatchItem<'sqlite'>
const excluded = (column: string) => sql.raw(`excluded.${column}`)
const col = (column: string) => sql.raw(`"${column}"`)
/** The earlier / later of the stored and the new time, either of which may be null. */
const earliest = (c: string) => sql`coalesce(min(${col(c)}, ${excluded(c)}), ${col(c)}, ${excluded(c)})`
const latest = (c: string) => sql`coalesce(max(${col(c)}, ${excluded(c)}), ${col(c)}, ${excluded(c)})`

export function upsertRun(db: Db, r: RunWrite, now: number) {
  const set: Record<string, SQL> = { lastProgressAt: excluded('last_progress_at'), updatedAt: excluded('updated_at') }
  if (r.goal !== undefined) set.goal = excluded('goal')
  if (r.requester !== undefined) set.requester = excluded('requester')
  if (r.labels !== undefined) set.labels = excluded('labels')
  if (r.policy !== undefined) set.policy = excluded('policy')
  if (r.startedAt !== undefined) set.startedAt = earliest('started_at')
  if (r.endedAt != null) set.endedAt = latest('ended_at')
  if (r.status !== undefined)
    set.status = sql`CASE WHEN ${sqlRank(runRank, excluded('status'))} > ${sqlRank(runRank, col('status'))}
      THEN ${excluded('status')} ELSE ${col('status')} END`
  return db
    .insert(runs)
    .values({
      id: r.id,
      goal: r.goal ?? null,
      requester: r.requester ?? null,
      labels: r.labels ?? {},
      status: r.status ?? 'running',
      startedAt: r.startedAt ?? now,
      endedAt: r.endedAt ?? null,
      policy: r.policy ?? null,
      lastProgressAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({ target: runs.id, set: set as never })
}

/** A run a task names before the run's own create arrived: made with what the task tells. */
const implicitRun = (db: Db, id: string, startedAt: number, now: number) =>
  db
    .insert(runs)
    .values({ id, startedAt, lastProgressAt: now, createdAt: now, updatedAt: now })
    .onConflictDoNothing({ target: runs.id })

/** The run's labels one per row (the list's label filter reads them), rebuilt from the run's JSON. */
const syncLabels = (db: Db, runId: string) => [
  db.run(sql`DELETE FROM run_labels WHERE run_id = ${runId}`),
  db.run(sql`INSERT INTO run_labels (name, value, started_at, run_id)
    SELECT j.key, j.value, r.started_at, r.id FROM runs r, json_each(r.labels) j WHERE r.id = ${runId}`),
]

/** The run's totals from its tasks, and its progress time (the stalled check reads it). */
const syncTotals = (db: Db, runId: string, now: number) =>
  db.run(sql`UPDATE runs SET
    input_tokens = (SELECT coalesce(sum(input_tokens), 0) FROM run_tasks WHERE run_id = ${runId}),
    output_tokens = (SELECT coalesce(sum(output_tokens), 0) FROM run_tasks WHERE run_id = ${runId}),
    cost_usd = (SELECT coalesce(sum(cost_usd), 0) FROM run_tasks WHERE run_id = ${runId}),
    task_count = (SELECT count(*) FROM run_tasks WHERE run_id = ${runId}),
    failed_count = (SELECT count(*) FROM run_tasks WHERE run_id = ${runId} AND status = 'failed'),
    last_progress_at = max(last_progress_at, ${now}),
    updated_at = ${now}
    WHERE id = ${runId}`)

type Derived = { costUsd?: number; failureClass?: RunFailureClass }

export function upsertTask(db: Db, t: TaskWrite, derived: Derived, now: number) {
  const set: Record<string, SQL> = { updatedAt: excluded('updated_at') }
  // Drizzle's `set` takes the TypeScript names; the SQL reads the snake_case columns.
  for (const [key, column] of [
    ['role', 'role'],
    ['title', 'title'],
    ['parentId', 'parent_id'],
    ['dependsOn', 'depends_on'],
    ['branchOf', 'branch_of'],
    ['depth', 'depth'],
    ['deadlineAt', 'deadline_at'],
    ['model', 'model'],
    ['input', 'input'],
    ['output', 'output'],
    ['links', 'links'],
  ] as const)
    if (t[key] !== undefined) set[key] = excluded(column)
  if (t.startedAt !== undefined) set.startedAt = earliest('started_at')
  if (t.endedAt !== undefined) set.endedAt = latest('ended_at')
  if (t.inputTokens !== undefined) set.inputTokens = sql`max(${col('input_tokens')}, ${excluded('input_tokens')})`
  if (t.outputTokens !== undefined) set.outputTokens = sql`max(${col('output_tokens')}, ${excluded('output_tokens')})`
  if (t.costUsd !== undefined) {
    set.costUsd = sql`CASE WHEN ${col('cost_given')} THEN max(${col('cost_usd')}, ${excluded('cost_usd')})
      ELSE ${excluded('cost_usd')} END`
    set.costGiven = sql`1`
  } else if (derived.costUsd !== undefined)
    set.costUsd = sql`CASE WHEN ${col('cost_given')} THEN ${col('cost_usd')} ELSE ${excluded('cost_usd')} END`
  if (t.status !== undefined || t.attempt !== undefined) {
    // (attempt, rank) only grows: a higher attempt starts the lifecycle again, the same attempt moves up.
    const attemptNew = t.attempt !== undefined ? excluded('attempt') : col('attempt')
    const forward = sql`(${attemptNew} > ${col('attempt')} OR (${attemptNew} = ${col('attempt')}
      AND ${sqlRank(taskRank, excluded('status'))} > ${sqlRank(taskRank, col('status'))}))`
    if (t.status !== undefined) {
      set.status = sql`CASE WHEN ${forward} THEN ${excluded('status')} ELSE ${col('status')} END`
      // The stuck check measures the current attempt from when it started running.
      set.attemptStartedAt = sql`CASE WHEN ${forward} AND ${excluded('status')} = 'running'
        THEN ${excluded('attempt_started_at')} WHEN ${attemptNew} > ${col('attempt')} THEN NULL
        ELSE ${col('attempt_started_at')} END`
    }
    if (t.attempt !== undefined) set.attempt = sql`max(${col('attempt')}, ${excluded('attempt')})`
  }
  if (t.error !== undefined) set.error = excluded('error')
  if (t.failureClass != null || derived.failureClass) set.failureClass = excluded('failure_class')
  else if (t.failureClass === null) set.failureClass = sql`NULL`
  const status: TaskStatus = t.status ?? 'pending'
  return db
    .insert(runTasks)
    .values({
      runId: t.runId,
      id: t.id,
      role: t.role ?? null,
      title: t.title ?? null,
      parentId: t.parentId ?? null,
      dependsOn: t.dependsOn ?? [],
      branchOf: t.branchOf ?? null,
      depth: t.depth ?? 0,
      attempt: t.attempt ?? 1,
      status,
      startedAt: t.startedAt ?? null,
      endedAt: t.endedAt ?? null,
      attemptStartedAt: status === 'running' ? (t.startedAt ?? now) : null,
      deadlineAt: t.deadlineAt ?? null,
      model: t.model ?? null,
      inputTokens: t.inputTokens ?? 0,
      outputTokens: t.outputTokens ?? 0,
      costUsd: t.costUsd ?? derived.costUsd ?? 0,
      costGiven: t.costUsd !== undefined,
      error: t.error ?? null,
      failureClass: t.failureClass ?? derived.failureClass ?? null,
      input: t.input ?? null,
      output: t.output ?? null,
      links: t.links ?? [],
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({ target: [runTasks.runId, runTasks.id], set: set as never })
}

const keyOf = (runId: string, id: string) => `${runId}\u0000${id}`

/** The stored tasks a batch names, by (run, id): the cost derivation needs their model and tokens. */
async function existingTasks(db: Db, tasks: TaskWrite[]) {
  const byRun = new Map<string, string[]>()
  for (const t of tasks) byRun.set(t.runId, [...(byRun.get(t.runId) ?? []), t.id])
  const found = new Map<string, RunTask>()
  const conditions = [...byRun].map(([runId, ids]) => and(eq(runTasks.runId, runId), inArray(runTasks.id, ids)))
  for (let i = 0; i < conditions.length; i += 50) {
    const rows = await db
      .select()
      .from(runTasks)
      .where(or(...conditions.slice(i, i + 50)))
    for (const r of rows) found.set(keyOf(r.runId, r.id), r)
  }
  return found
}

/** Cost from tokens through the price table, when the client gave tokens and a model but no cost. */
async function deriveCost(deps: WriteDeps, t: TaskWrite, old: RunTask | undefined, now: number) {
  if (t.costUsd !== undefined || old?.costGiven) return undefined
  if (t.inputTokens === undefined && t.outputTokens === undefined && t.model === undefined) return undefined
  const model = t.model ?? old?.model
  if (!model) return undefined
  const price = await deps.prices.priceAt(model, t.startedAt ?? old?.startedAt ?? now)
  if (!price) return undefined
  const input = Math.max(t.inputTokens ?? 0, old?.inputTokens ?? 0)
  const output = Math.max(t.outputTokens ?? 0, old?.outputTokens ?? 0)
  return (input * price.promptPer1M + output * price.completionPer1M) / 1_000_000
}

export type BatchResult = { runs: string[]; tasks: number }

/**
 * The statements that write runs and tasks (one atomic batch once run). `known` are stored tasks
 * the caller already read (the failure route), so they are not read again.
 */
export async function prepareBatch(
  deps: WriteDeps,
  input: { runs?: RunWrite[]; tasks?: TaskWrite[] },
  now: number,
  known: RunTask[] = [],
): Promise<{ statements: Stmt[]; result: BatchResult }> {
  const { db } = deps
  const runWrites = input.runs ?? []
  const taskWrites = input.tasks ?? []
  const old = new Map(known.map((t) => [keyOf(t.runId, t.id), t]))
  const unknown = taskWrites.filter((t) => !old.has(keyOf(t.runId, t.id)))
  if (unknown.length) for (const [k, t] of await existingTasks(db, unknown)) old.set(k, t)
  const statements: Stmt[] = []
  for (const r of runWrites) statements.push(upsertRun(db, r, now))
  const given = new Set(runWrites.map((r) => r.id))
  const firstStart = new Map<string, number>()
  for (const t of taskWrites) {
    const start = Math.min(t.startedAt ?? now, firstStart.get(t.runId) ?? Number.POSITIVE_INFINITY)
    firstStart.set(t.runId, start)
  }
  for (const [runId, start] of firstStart) if (!given.has(runId)) statements.push(implicitRun(db, runId, start, now))
  for (const t of taskWrites) {
    const prev = old.get(keyOf(t.runId, t.id))
    const derived: Derived = { costUsd: await deriveCost(deps, t, prev, now) }
    const role = t.role ?? prev?.role ?? null
    if (t.status === 'failed' && t.failureClass == null && t.error)
      derived.failureClass = await deps.classify({ error: t.error, role, attributes: t.attributes })
    statements.push(upsertTask(db, t, derived, now))
  }
  const touched = new Set([...given, ...firstStart.keys()])
  for (const r of runWrites)
    if (r.labels !== undefined || r.startedAt !== undefined) statements.push(...syncLabels(db, r.id))
  for (const runId of firstStart.keys()) statements.push(syncTotals(db, runId, now))
  return { statements, result: { runs: [...touched], tasks: taskWrites.length } }
}

/**
 * Writes runs and tasks as one atomic batch. The input has already been validated (the routes'
 * schemas), so nothing here refuses an item: what could be refused was refused, naming it, before.
 */
export async function recordBatch(
  deps: WriteDeps,
  input: { runs?: RunWrite[]; tasks?: TaskWrite[] },
  now: number,
): Promise<BatchResult> {
  const { statements, result } = await prepareBatch(deps, input, now)
  await deps.db.batch(statements as [Stmt, ...Stmt[]])
  return result
}
