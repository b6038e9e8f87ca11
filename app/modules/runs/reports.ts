/**
 * The fleet's record (docs/runs.md#reports): success rate by role, model and run label, attempts per
 * task, p50/p95 durations, cost per run and per role, top failure classes and their daily trend, and
 * two scopes side by side ("does the team beat the single agent?"). SQL aggregates over runs started
 * in the period (and carrying a label, when asked), parameterised; percentiles by rank with window
 * functions (nearest rank: the ⌈q·n⌉-th smallest).
 */
import { type SQL, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'

export type Scope = { from: number; to: number; label?: { name: string; value: string } }

const DAY_MS = 86_400_000

/** The runs a report is about, as a condition over the alias `r`. */
function inScope(s: Scope): SQL {
  const label = s.label
    ? sql` AND EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = r.id AND l.name = ${s.label.name}
        AND l.value = ${s.label.value} AND l.started_at = r.started_at)`
    : sql``
  return sql`r.started_at >= ${s.from} AND r.started_at < ${s.to}${label}`
}

const rate = (ok: number, n: number) => (n ? Math.round((ok / n) * 10_000) / 10_000 : null)
const num = (v: unknown) => (v == null ? null : Number(v))
const usd = (v: unknown) => Math.round(Number(v ?? 0) * 1e6) / 1e6

type Row = Record<string, unknown>

/** Runs in scope: count, outcome, success rate, cost per run, p50/p95 duration of finished runs. */
async function runSummary(db: Db, s: Scope) {
  const [row] = await db.all<Row>(sql`
    WITH x AS (
      SELECT r.status, r.cost_usd AS cost, r.ended_at - r.started_at AS d,
        ROW_NUMBER() OVER (PARTITION BY r.ended_at IS NOT NULL ORDER BY r.ended_at - r.started_at) AS rn,
        COUNT(*) OVER (PARTITION BY r.ended_at IS NOT NULL) AS n,
        r.ended_at IS NOT NULL AS ended
      FROM runs r WHERE ${inScope(s)})
    SELECT COUNT(*) AS runs,
      SUM(status = 'succeeded') AS succeeded,
      SUM(status IN ('failed', 'aborted')) AS failed,
      SUM(status = 'escalated') AS escalated,
      SUM(cost) AS cost,
      MAX(CASE WHEN ended AND rn = (n * 50 + 99) / 100 THEN d END) AS p50,
      MAX(CASE WHEN ended AND rn = (n * 95 + 99) / 100 THEN d END) AS p95
    FROM x`)
  const runs = Number(row?.runs ?? 0)
  const succeeded = Number(row?.succeeded ?? 0)
  const finished = succeeded + Number(row?.failed ?? 0)
  return {
    runs,
    succeeded,
    failed: Number(row?.failed ?? 0),
    escalated: Number(row?.escalated ?? 0),
    successRate: rate(succeeded, finished),
    costUsd: usd(row?.cost),
    costPerRunUsd: runs ? usd(Number(row?.cost ?? 0) / runs) : null,
    durationMs: { p50: num(row?.p50), p95: num(row?.p95) },
  }
}

/** Tasks in scope grouped by `key` (role or model): outcome, attempts per task, p50/p95 duration, cost. */
async function tasksBy(db: Db, s: Scope, key: 'role' | 'model') {
  const column = sql.raw(`t.${key}`)
  const rows = await db.all<Row>(sql`
    WITH x AS (
      SELECT ${column} AS k, t.status, t.attempt, t.cost_usd AS cost,
        CASE WHEN t.ended_at IS NOT NULL AND t.started_at IS NOT NULL THEN t.ended_at - t.started_at END AS d
      FROM run_tasks t JOIN runs r ON r.id = t.run_id
      WHERE ${inScope(s)} AND ${column} IS NOT NULL),
    ranked AS (
      SELECT k, d, ROW_NUMBER() OVER (PARTITION BY k ORDER BY d) AS rn, COUNT(*) OVER (PARTITION BY k) AS n
      FROM x WHERE d IS NOT NULL),
    pct AS (
      SELECT k, MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN d END) AS p50,
        MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN d END) AS p95
      FROM ranked GROUP BY k)
    SELECT x.k AS k, COUNT(*) AS tasks, SUM(x.status = 'succeeded') AS succeeded,
      SUM(x.status IN ('failed', 'escalated')) AS failed, AVG(x.attempt) AS attempts, SUM(x.cost) AS cost,
      pct.p50 AS p50, pct.p95 AS p95
    FROM x LEFT JOIN pct ON pct.k = x.k
    GROUP BY x.k ORDER BY tasks DESC, x.k LIMIT 200`)
  return rows.map((r) => {
    const succeeded = Number(r.succeeded ?? 0)
    const failed = Number(r.failed ?? 0)
    return {
      [key]: String(r.k),
      tasks: Number(r.tasks),
      succeeded,
      failed,
      successRate: rate(succeeded, succeeded + failed),
      attemptsPerTask: Math.round(Number(r.attempts ?? 0) * 100) / 100,
      costUsd: usd(r.cost),
      durationMs: { p50: num(r.p50), p95: num(r.p95) },
    }
  })
}

/** Runs in scope grouped by the value of label `name`. */
async function runsByLabel(db: Db, s: Scope, name: string) {
  const rows = await db.all<Row>(sql`
    SELECT l.value AS value, COUNT(*) AS runs, SUM(r.status = 'succeeded') AS succeeded,
      SUM(r.status IN ('failed', 'aborted')) AS failed, SUM(r.cost_usd) AS cost
    FROM runs r JOIN run_labels l ON l.run_id = r.id AND l.started_at = r.started_at AND l.name = ${name}
    WHERE ${inScope(s)} GROUP BY l.value ORDER BY runs DESC LIMIT 200`)
  return rows.map((r) => {
    const runs = Number(r.runs)
    const succeeded = Number(r.succeeded ?? 0)
    return {
      value: String(r.value),
      runs,
      succeeded,
      successRate: rate(succeeded, succeeded + Number(r.failed ?? 0)),
      costPerRunUsd: usd(Number(r.cost ?? 0) / runs),
    }
  })
}

/**
 * Failures in scope: each failure report (`run_failures`), plus each task recorded as failed with a
 * class that has no report for its attempt (a failed span from OTLP, a task written `failed` in a
 * batch): the top classes, and per day and class for the trend.
 */
async function failureClasses(db: Db, s: Scope) {
  const failures = sql`
    SELECT f.class AS class, f.at AS at FROM run_failures f JOIN runs r ON r.id = f.run_id WHERE ${inScope(s)}
    UNION ALL
    SELECT t.failure_class, COALESCE(t.ended_at, t.updated_at) FROM run_tasks t JOIN runs r ON r.id = t.run_id
    WHERE ${inScope(s)} AND t.status = 'failed' AND t.failure_class IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM run_failures f
        WHERE f.run_id = t.run_id AND f.task_id = t.id AND f.attempt = t.attempt)`
  const top = await db.all<Row>(sql`
    SELECT class, COUNT(*) AS n FROM (${failures}) GROUP BY class ORDER BY n DESC, class`)
  const trend = await db.all<Row>(sql`
    SELECT (at / ${DAY_MS}) * ${DAY_MS} AS day, class, COUNT(*) AS n
    FROM (${failures}) GROUP BY day, class ORDER BY day, class`)
  return {
    top: top.map((r) => ({ class: String(r.class), count: Number(r.n) })),
    trend: trend.map((r) => ({
      day: new Date(Number(r.day)).toISOString().slice(0, 10),
      class: String(r.class),
      count: Number(r.n),
    })),
  }
}

/** The report for one scope; `byLabel` names the label whose values to compare (e.g. team). */
export async function report(db: Db, s: Scope, byLabel?: string) {
  return {
    from: new Date(s.from).toISOString(),
    to: new Date(s.to).toISOString(),
    label: s.label ? `${s.label.name}:${s.label.value}` : null,
    runs: await runSummary(db, s),
    byRole: await tasksBy(db, s, 'role'),
    byModel: await tasksBy(db, s, 'model'),
    ...(byLabel ? { byLabel: { name: byLabel, values: await runsByLabel(db, s, byLabel) } } : {}),
    failureClasses: await failureClasses(db, s),
  }
}

/** Two scopes side by side, with the differences that answer "which does better". */
export async function compare(db: Db, a: Scope, b: Scope) {
  const [ra, rb] = [await report(db, a), await report(db, b)]
  const diff = (x: number | null, y: number | null) => (x == null || y == null ? null : Math.round((x - y) * 1e6) / 1e6)
  return {
    a: ra,
    b: rb,
    difference: {
      successRate: diff(ra.runs.successRate, rb.runs.successRate),
      costPerRunUsd: diff(ra.runs.costPerRunUsd, rb.runs.costPerRunUsd),
      p50DurationMs: diff(ra.runs.durationMs.p50, rb.runs.durationMs.p50),
      p95DurationMs: diff(ra.runs.durationMs.p95, rb.runs.durationMs.p95),
    },
  }
}
