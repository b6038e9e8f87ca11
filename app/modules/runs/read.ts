/** Reading runs: one run with its tasks, and the list with its filters, paged by cursor. */
import { and, asc, count, desc, eq, exists, gt, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { type Run, runLabels, runs, type RunTask, runTasks } from '../../../db/schema/runs.ts'
import { notFound } from '../../lib/errors.ts'
import { toIso } from '../../lib/time.ts'
import type { ListFilter } from './input.ts'

export async function findRun(db: Db, id: string): Promise<Run | undefined> {
  const [row] = await db.select().from(runs).where(eq(runs.id, id))
  return row
}

export async function getRun(db: Db, id: string) {
  const row = await findRun(db, id)
  if (!row) throw notFound('Run')
  return row
}

export async function findTask(db: Db, runId: string, id: string): Promise<RunTask | undefined> {
  const [row] = await db
    .select()
    .from(runTasks)
    .where(and(eq(runTasks.runId, runId), eq(runTasks.id, id)))
  return row
}

export async function getTask(db: Db, runId: string, id: string) {
  const row = await findTask(db, runId, id)
  if (!row) throw notFound('Task')
  return row
}

/** A run's tasks in the order they started (not yet started last), ties by id. */
export const tasksOf = (db: Db, runId: string) =>
  db
    .select()
    .from(runTasks)
    .where(eq(runTasks.runId, runId))
    .orderBy(sql`${runTasks.startedAt} IS NULL`, asc(runTasks.startedAt), asc(runTasks.id))

export const durationOf = (r: { startedAt: number | null; endedAt: number | null }, now: number) =>
  r.startedAt == null ? null : Math.max(0, (r.endedAt ?? now) - r.startedAt)

export const runJson = (r: Run, now: number) => ({
  id: r.id,
  goal: r.goal,
  requester: r.requester,
  labels: r.labels,
  status: r.status,
  startedAt: toIso(r.startedAt),
  endedAt: toIso(r.endedAt),
  totals: {
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    tokens: r.inputTokens + r.outputTokens,
    costUsd: round(r.costUsd),
    durationMs: durationOf(r, now),
    tasks: r.taskCount,
    failedTasks: r.failedCount,
  },
  policy: r.policy,
  escalation: r.escalation
    ? { ...r.escalation, at: toIso(r.escalation.at), pending: r.status === 'escalated' && !r.decision }
    : null,
  decision: r.decision ? { ...r.decision, at: toIso(r.decision.at) } : null,
  lastProgressAt: toIso(r.lastProgressAt),
  createdAt: toIso(r.createdAt),
  updatedAt: toIso(r.updatedAt),
})

export const taskJson = (t: RunTask, now: number) => ({
  id: t.id,
  runId: t.runId,
  role: t.role,
  title: t.title,
  parentId: t.parentId,
  dependsOn: t.dependsOn,
  branchOf: t.branchOf,
  depth: t.depth,
  attempt: t.attempt,
  status: t.status,
  startedAt: toIso(t.startedAt),
  endedAt: toIso(t.endedAt),
  durationMs: durationOf(t, now),
  deadlineAt: toIso(t.deadlineAt),
  model: t.model,
  inputTokens: t.inputTokens,
  outputTokens: t.outputTokens,
  costUsd: round(t.costUsd),
  error: t.error,
  failureClass: t.failureClass,
  input: t.input,
  output: t.output,
  links: t.links,
  stuck: t.stuckSince != null,
  updatedAt: toIso(t.updatedAt),
})

/** Dollars to 1e-9: sums of float prices otherwise print long tails. */
const round = (usd: number) => Math.round(usd * 1e9) / 1e9

/** Below this many tasks of a role or class, the list finds their runs from the tasks (an index search each). */
export const FEW_TASKS = 2000
/** Runs a page of a common role or class looks through at most; a page cut short there gives a cursor to go on. */
export const SCAN_WINDOW = 5000

/**
 * Runs newest first. The cursor is `startedAt:id` of the last row; the label filter walks the
 * run_labels index. The role and class filters: a role or class with few tasks (under FEW_TASKS,
 * counted with a capped read of run_tasks_role_idx or run_tasks_class_idx) finds its runs from those
 * tasks and sorts them; a common one walks the runs newest first asking whether a task of the run
 * matches, through at most SCAN_WINDOW runs: a page that ends there short of `limit` answers what it
 * found and a cursor at the last run looked at, so no request scans every run.
 */
export async function listRuns(db: Db, f: ListFilter & { limit: number }) {
  const where: SQL[] = []
  if (f.status) where.push(eq(runs.status, f.status))
  if (f.from !== undefined) where.push(gte(runs.startedAt, f.from))
  if (f.to !== undefined) where.push(lt(runs.startedAt, f.to))
  if (f.cursor) {
    const at = f.cursor.indexOf(':')
    const ts = Number(f.cursor.slice(0, at))
    const id = f.cursor.slice(at + 1)
    where.push(or(lt(runs.startedAt, ts), and(eq(runs.startedAt, ts), lt(runs.id, id))) as SQL)
  }
  if (f.label) {
    const { name, value } = f.label
    where.push(
      exists(
        db
          .select({ one: sql`1` })
          .from(runLabels)
          .where(
            and(
              eq(runLabels.name, name),
              eq(runLabels.value, value),
              eq(runLabels.startedAt, runs.startedAt),
              eq(runLabels.runId, runs.id),
            ),
          ),
      ),
    )
  }
  // Each filter as the index search of its tasks, and as the per-run check (`+` makes SQLite check it on
  // the run's tasks by the primary key, not search every task of the role for the run).
  const taskFilters = [
    f.role === undefined ? undefined : { search: eq(runTasks.role, f.role), check: sql`+${runTasks.role} = ${f.role}` },
    f.class === undefined
      ? undefined
      : { search: eq(runTasks.failureClass, f.class), check: sql`+${runTasks.failureClass} = ${f.class}` },
  ].filter((c) => c !== undefined)
  let driven = false
  const common: SQL[] = []
  for (const { search, check } of taskFilters) {
    const [few] = await db
      .select({ n: count() })
      .from(db.select({ one: sql`1` }).from(runTasks).where(search).limit(FEW_TASKS).as('few'))
    if ((few?.n ?? 0) < FEW_TASKS) {
      where.push(inArray(runs.id, db.select({ id: runTasks.runId }).from(runTasks).where(search)))
      driven = true
    } else common.push(check)
  }
  for (const check of common)
    where.push(
      exists(
        db
          .select({ one: sql`1` })
          .from(runTasks)
          .where(and(eq(runTasks.runId, runs.id), check)),
      ),
    )
  // A common role or class alone: the page looks through SCAN_WINDOW runs at most (the last of them is `bound`).
  let bound: { startedAt: number; id: string } | undefined
  if (common.length && !driven) {
    const before = where.slice(0, where.length - common.length)
    ;[bound] = await db
      .select({ startedAt: runs.startedAt, id: runs.id })
      .from(runs)
      .where(before.length ? and(...before) : undefined)
      .orderBy(desc(runs.startedAt), desc(runs.id))
      .limit(1)
      .offset(SCAN_WINDOW - 1)
    if (bound)
      where.push(
        or(
          gt(runs.startedAt, bound.startedAt),
          and(eq(runs.startedAt, bound.startedAt), gte(runs.id, bound.id)),
        ) as SQL,
      )
  }
  // Found from the tasks: sorted afterwards (`+` keeps SQLite from walking every run in order to spare the sort).
  const order = driven ? [sql`+${runs.startedAt} DESC`, desc(runs.id)] : [desc(runs.startedAt), desc(runs.id)]
  const rows = await db
    .select()
    .from(runs)
    .where(where.length ? and(...where) : undefined)
    .orderBy(...order)
    .limit(f.limit + 1)
  const items = rows.slice(0, f.limit)
  const last = items.at(-1)
  if (rows.length > f.limit && last) return { items, next: `${last.startedAt}:${last.id}` }
  // Cut short by the window: go on after the last run looked at.
  return { items, next: bound ? `${bound.startedAt}:${bound.id}` : null }
}

/** Runs waiting for a person (escalated, no choice yet), oldest first: the escalation queue. */
export const escalationQueue = (db: Db) =>
  db
    .select()
    .from(runs)
    .where(and(eq(runs.status, 'escalated'), sql`${runs.decision} IS NULL`))
    .orderBy(asc(runs.updatedAt))
    .limit(500)
