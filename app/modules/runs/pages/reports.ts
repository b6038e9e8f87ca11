/**
 * The reports' queries (the core has none yet): success by role, model and label, attempts, duration
 * percentiles, cost, failure classes and their trend, and one summary per side of a comparison.
 * Every query reads the runs that started in the period (runs_started_idx), optionally those with
 * one label (run_labels' primary key), and joins their tasks by run (run_tasks' primary key).
 */
import { type SQL, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'

export type Scope = { from: number; to: number; label?: { name: string; value: string } }

/** The runs of a scope, as a subquery every report starts from. */
const scopedRuns = (s: Scope): SQL =>
  s.label
    ? sql`SELECT r.* FROM run_labels l JOIN runs r ON r.id = l.run_id
          WHERE l.name = ${s.label.name} AND l.value = ${s.label.value}
            AND l.started_at >= ${s.from} AND l.started_at < ${s.to}`
    : sql`SELECT * FROM runs WHERE started_at >= ${s.from} AND started_at < ${s.to}`

export type Rate = { key: string; total: number; succeeded: number; failed: number; cost: number; attempts: number }

/** Tasks by role or by model: how many ended well, how many failed, attempts and cost. */
async function tasksBy(db: Db, s: Scope, column: 'role' | 'model') {
  const col = column === 'role' ? sql`t.role` : sql`t.model`
  return db.all<Rate>(sql`
    SELECT coalesce(${col}, '(none)') AS key, count(*) AS total,
           sum(t.status = 'succeeded') AS succeeded, sum(t.status = 'failed') AS failed,
           coalesce(sum(t.cost_usd), 0) AS cost, coalesce(sum(t.attempt), 0) AS attempts
    FROM (${scopedRuns(s)}) r JOIN run_tasks t ON t.run_id = r.id
    GROUP BY 1 ORDER BY total DESC LIMIT 50`)
}

/** Runs by label pair: success rate and cost per run for each value of each label. */
const runsByLabel = (db: Db, s: Scope) =>
  db.all<Rate & { name: string; value: string }>(sql`
    SELECT l.name AS name, l.value AS value, l.name || '=' || l.value AS key, count(*) AS total,
           sum(r.status = 'succeeded') AS succeeded, sum(r.status IN ('failed', 'aborted')) AS failed,
           coalesce(sum(r.cost_usd), 0) AS cost, coalesce(sum(r.task_count), 0) AS attempts
    FROM (${scopedRuns(s)}) r JOIN run_labels l ON l.run_id = r.id AND l.started_at = r.started_at
    GROUP BY l.name, l.value ORDER BY total DESC LIMIT 50`)

/** The q-quantile of sorted values (nearest rank). */
export function quantileOf(sorted: readonly number[], q: number): number | null {
  if (!sorted.length) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export type Summary = {
  runs: number
  succeeded: number
  failed: number
  escalated: number
  cost: number
  tokens: number
  tasks: number
  attempts: number
  p50: number | null
  p95: number | null
}

/** One side of a comparison, and the period's headline: counts, cost, attempts, duration p50/p95. */
export async function summary(db: Db, s: Scope): Promise<Summary> {
  const [[row], durations, [att]] = await Promise.all([
    db.all<Omit<Summary, 'p50' | 'p95' | 'attempts'>>(sql`
      SELECT count(*) AS runs, coalesce(sum(status = 'succeeded'), 0) AS succeeded,
             coalesce(sum(status IN ('failed', 'aborted')), 0) AS failed,
             coalesce(sum(status = 'escalated'), 0) AS escalated,
             coalesce(sum(cost_usd), 0) AS cost, coalesce(sum(input_tokens + output_tokens), 0) AS tokens,
             coalesce(sum(task_count), 0) AS tasks
      FROM (${scopedRuns(s)})`),
    // Finished runs only: a running one has no duration yet. Sorted in SQL, the quantiles read by rank.
    db.all<{ d: number }>(sql`
      SELECT ended_at - started_at AS d FROM (${scopedRuns(s)}) WHERE ended_at IS NOT NULL ORDER BY 1`),
    db.all<{ attempts: number }>(sql`
      SELECT coalesce(sum(t.attempt), 0) AS attempts FROM (${scopedRuns(s)}) r JOIN run_tasks t ON t.run_id = r.id`),
  ])
  const sorted = durations.map((d) => d.d)
  return {
    ...(row as Omit<Summary, 'p50' | 'p95' | 'attempts'>),
    attempts: att?.attempts ?? 0,
    p50: quantileOf(sorted, 0.5),
    p95: quantileOf(sorted, 0.95),
  }
}

/** Task duration p50/p95 by role (finished tasks). */
async function taskDurations(db: Db, s: Scope) {
  const rows = await db.all<{ role: string; d: number }>(sql`
    SELECT coalesce(t.role, '(none)') AS role, t.ended_at - t.started_at AS d
    FROM (${scopedRuns(s)}) r JOIN run_tasks t ON t.run_id = r.id
    WHERE t.started_at IS NOT NULL AND t.ended_at IS NOT NULL ORDER BY 1, 2`)
  const by = new Map<string, number[]>()
  for (const r of rows) (by.get(r.role) ?? by.set(r.role, []).get(r.role)!).push(r.d)
  return [...by].map(([role, d]) => ({ role, n: d.length, p50: quantileOf(d, 0.5), p95: quantileOf(d, 0.95) }))
}

/**
 * Failures by class, and their count per day. A failure reported through the failure route is one
 * row per attempt in run_failures; a task that only arrived failed (OTLP, a batch) counts once from
 * its own class.
 */
async function failureClasses(db: Db, s: Scope, bucketMs: number) {
  const rows = await db.all<{ class: string; b: number; n: number }>(sql`
    WITH scoped AS (${scopedRuns(s)}),
    fails AS (
      SELECT f.class AS class, f.at AS at FROM scoped r JOIN run_failures f ON f.run_id = r.id
      UNION ALL
      SELECT t.failure_class, coalesce(t.ended_at, t.updated_at) FROM scoped r JOIN run_tasks t ON t.run_id = r.id
      WHERE t.failure_class IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM run_failures x WHERE x.run_id = t.run_id AND x.task_id = t.id)
    )
    SELECT class, (at / ${bucketMs}) * ${bucketMs} AS b, count(*) AS n FROM fails GROUP BY 1, 2 ORDER BY 2`)
  const totals = new Map<string, number>()
  for (const r of rows) totals.set(r.class, (totals.get(r.class) ?? 0) + r.n)
  const top = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return { top: top.map(([cls, n]) => ({ class: cls, n })), trend: rows }
}

export async function reports(db: Db, s: Scope) {
  // Hours up to two days, days beyond, and at most ~365 buckets however long the period.
  const day = 86_400_000
  const span = s.to - s.from
  const bucketMs = span > 2 * day ? Math.max(1, Math.ceil(span / 365 / day)) * day : 3_600_000
  const [headline, byRole, byModel, byLabel, durations, classes] = await Promise.all([
    summary(db, s),
    tasksBy(db, s, 'role'),
    tasksBy(db, s, 'model'),
    runsByLabel(db, s),
    taskDurations(db, s),
    failureClasses(db, s, bucketMs),
  ])
  return { headline, byRole, byModel, byLabel, durations, classes, bucketMs }
}
export type Reports = Awaited<ReturnType<typeof reports>>
