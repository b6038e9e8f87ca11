/**
 * Recording runs and tasks: single writes and batches go through `recordBatch`, which turns them into
 * one atomic transaction of upserts (all written or none), each a fixed SQL text run per row
 * (write-sql.ts). Each upsert merges in SQL (lifecycle.ts), so the
 * order reports arrive in, a retry of the same report, or a concurrent writer never loses a state:
 * statuses move forward only, start times keep the earliest, end times the latest, token counts the
 * largest (agents report running totals per task). A task whose run is not known yet creates the run
 * (its create may still be on the way); the run's totals are recomputed from its tasks in the same batch.
 */
import { sql } from 'drizzle-orm'
import { type Db, writeTransaction } from '../../../db/client.ts'
import { type RunFailureClass, type RunTask, runTasks } from '../../../db/schema/runs.ts'
import type { TxnStatement } from '../../../db/txn-thread.ts'
import type { Prices } from '../components/index.ts'
import type { RunInput, TaskInput } from './input.ts'
import {
  clearLabelsSql,
  type FixedStatement,
  fillLabelsSql,
  implicitRunSql,
  rowsOf,
  type TaskRow,
  syncTotalsSql,
  upsertRunSql,
  upsertTaskSql,
} from './write-sql.ts'

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

/** A statement of a write transaction (db/client.ts writeTransaction): SQL text, arguments or rows. */
export type Stmt = TxnStatement
type Derived = TaskRow['derived']
/** What the cost derivation and the classifier read of a stored task. */
export type PriorTask = Pick<
  RunTask,
  'runId' | 'id' | 'role' | 'model' | 'startedAt' | 'inputTokens' | 'outputTokens' | 'costGiven'
>

const keyOf = (runId: string, id: string) => `${runId}\u0000${id}`

/**
 * The stored tasks a batch names, by (run, id), in one query whatever the batch's size (its pairs go
 * as one JSON parameter, each looked up by the primary key): the cost derivation needs their model
 * and tokens, the classifier their role.
 */
async function existingTasks(db: Db, tasks: TaskWrite[]) {
  const pairs = JSON.stringify(tasks.map((t) => [t.runId, t.id]))
  const rows = await db
    .select({
      runId: runTasks.runId,
      id: runTasks.id,
      role: runTasks.role,
      model: runTasks.model,
      startedAt: runTasks.startedAt,
      inputTokens: runTasks.inputTokens,
      outputTokens: runTasks.outputTokens,
      costGiven: runTasks.costGiven,
    })
    .from(runTasks)
    .where(
      sql`(${runTasks.runId}, ${runTasks.id}) IN
        (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${pairs}))`,
    )
  return new Map<string, PriorTask>(rows.map((r) => [keyOf(r.runId, r.id), r]))
}

/** Cost from tokens through the price table, when the client gave tokens and a model but no cost. */
async function deriveCost(deps: WriteDeps, t: TaskWrite, old: PriorTask | undefined, now: number) {
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
 * The statements that write runs and tasks (one atomic transaction once run): each kind is one
 * fixed SQL text run once per row (write-sql.ts), in this order: runs, runs named only by their
 * tasks, tasks, labels, then each touched run's totals once. `known` are stored tasks the caller
 * already read (the failure route), so they are not read again.
 */
export async function prepareBatch(
  deps: WriteDeps,
  input: { runs?: RunWrite[]; tasks?: TaskWrite[] },
  now: number,
  known: PriorTask[] = [],
): Promise<{ statements: Stmt[]; result: BatchResult }> {
  const { db } = deps
  const runWrites = input.runs ?? []
  const taskWrites = input.tasks ?? []
  const old = new Map(known.map((t) => [keyOf(t.runId, t.id), t]))
  const unknown = taskWrites.filter((t) => !old.has(keyOf(t.runId, t.id)))
  if (unknown.length) for (const [k, t] of await existingTasks(db, unknown)) old.set(k, t)
  const statements: Stmt[] = []
  const add = <T>(fixed: FixedStatement<T>, rows: T[]) => {
    if (rows.length) statements.push(rowsOf(fixed, rows))
  }
  add(
    upsertRunSql,
    runWrites.map((r) => ({ ...r, now })),
  )
  const given = new Set(runWrites.map((r) => r.id))
  const firstStart = new Map<string, number>()
  for (const t of taskWrites) {
    const start = Math.min(t.startedAt ?? now, firstStart.get(t.runId) ?? Number.POSITIVE_INFINITY)
    firstStart.set(t.runId, start)
  }
  add(
    implicitRunSql,
    [...firstStart].filter(([runId]) => !given.has(runId)).map(([id, startedAt]) => ({ id, startedAt, now })),
  )
  const taskRows: TaskRow[] = []
  for (const t of taskWrites) {
    const prev = old.get(keyOf(t.runId, t.id))
    const derived: Derived = { costUsd: await deriveCost(deps, t, prev, now) }
    const role = t.role ?? prev?.role ?? null
    if (t.status === 'failed' && t.failureClass == null && t.error)
      derived.failureClass = await deps.classify({ error: t.error, role, attributes: t.attributes })
    taskRows.push({ t, derived, now })
  }
  add(upsertTaskSql, taskRows)
  const touched = new Set([...given, ...firstStart.keys()])
  // Each run's labels once (all cleared, then all filled: a run written twice must not fill twice).
  const relabelled = [
    ...new Set(runWrites.filter((r) => r.labels !== undefined || r.startedAt !== undefined).map((r) => r.id)),
  ]
  add(clearLabelsSql, relabelled)
  add(fillLabelsSql, relabelled)
  add(
    syncTotalsSql,
    [...firstStart.keys()].map((id) => ({ id, now })),
  )
  return { statements, result: { runs: [...touched], tasks: taskWrites.length } }
}

/**
 * Writes runs and tasks as one atomic transaction, with `before` (e.g. the OTLP intake's spans)
 * first in it. The input has already been validated (the routes' schemas), so nothing here refuses
 * an item: what could be refused was refused, naming it, before.
 */
export async function recordBatch(
  deps: WriteDeps,
  input: { runs?: RunWrite[]; tasks?: TaskWrite[] },
  now: number,
  before: Stmt[] = [],
): Promise<BatchResult> {
  const { statements, result } = await prepareBatch(deps, input, now)
  await writeTransaction(deps.db, [...before, ...statements])
  return result
}
