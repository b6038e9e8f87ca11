/**
 * The SQL texts runs and tasks are written with (write.ts), each fixed when this file loads. What a
 * write gives or leaves out is a parameter (a 0/1 flag per optional field) instead of a different
 * text, so the database prepares each text once and reuses it for every row (the transaction
 * thread runs one prepared statement per row: db/txn-thread.ts `rows`). Building and preparing one
 * upsert per row through the query builder was most of the OTLP intake's time (docs/adr/0010-runs-fixed-statements.md).
 * The merge rules are the ones the routes document (lifecycle.ts, docs/runs.md#out-of-order-updates):
 * statuses only move forward, start times keep the earliest, end times the latest, tokens the largest.
 */
import type { TxnStatement } from '../../../db/txn-thread.ts'
import { CHECK_NOW, runRank, taskRank } from './lifecycle.ts'

type Arg = TxnStatement['args'][number]
type Param<T> = (x: T) => Arg
/** SQL text with the parameters it reads from each row, in the order of its `?`s. */
type Fragment<T> = { text: string; params: Param<T>[] }

/**
 * A fragment of fixed SQL: a function interpolated is a parameter (read from the row), a fragment is
 * spliced in with its parameters, a string is SQL text (only names and words of this file, never data).
 */
function q<T>(strings: TemplateStringsArray, ...parts: (string | Param<T> | Fragment<T>)[]): Fragment<T> {
  let text = strings[0]!
  const params: Param<T>[] = []
  parts.forEach((part, i) => {
    if (typeof part === 'string') text += part
    else if (typeof part === 'function') {
      text += '?'
      params.push(part)
    } else {
      text += part.text
      params.push(...part.params)
    }
    text += strings[i + 1]!
  })
  return { text, params }
}

const join = <T>(fragments: Fragment<T>[], separator: string): Fragment<T> => ({
  text: fragments.map((f) => f.text).join(separator),
  params: fragments.flatMap((f) => f.params),
})

/** A fixed statement and the arguments of one row of it. */
export type FixedStatement<T> = { sql: string; args: (x: T) => Arg[] }
const statement = <T>(f: Fragment<T>): FixedStatement<T> => ({ sql: f.text, args: (x) => f.params.map((p) => p(x)) })

/**
 * One transaction statement running `fixed` once per row (in order). The rows go as JSON text: every
 * value here is a string, a finite number or null, and a text is copied to the transaction thread
 * much faster than the arrays it holds.
 */
export const rowsOf = <T>(fixed: FixedStatement<T>, rows: T[]): TxnStatement => ({
  sql: fixed.sql,
  args: [],
  rows: JSON.stringify(rows.map(fixed.args)),
})

const flag = (given: boolean): Arg => (given ? 1 : 0)
const json = (value: unknown): Arg => (value == null ? null : JSON.stringify(value))

/** The rank of a status as a CASE over the fixed status words (no data in the text). */
const rank = (ranks: Record<string, number>, column: string) =>
  `(CASE ${column} ${Object.entries(ranks)
    .map(([status, r]) => `WHEN '${status}' THEN ${r}`)
    .join(' ')} ELSE -1 END)`

/** The earlier / later of the stored and the new time, either of which may be null. */
const earliest = (c: string) => `coalesce(min(${c}, excluded.${c}), ${c}, excluded.${c})`
const latest = (c: string) => `coalesce(max(${c}, excluded.${c}), ${c}, excluded.${c})`

/** `column` takes `value` when the row's flag is set, else keeps what is stored. */
const when = <T>(column: string, given: Param<T>, value: string) =>
  q<T>`${column} = CASE WHEN ${given} THEN ${value} ELSE ${column} END`

// ---- runs ----

/** A run write as write.ts has it (RunWrite) with the time of the batch. */
export type RunRow = {
  id: string
  goal?: string | null
  requester?: string | null
  labels?: Record<string, string>
  policy?: unknown
  status?: string
  startedAt?: number
  endedAt?: number | null
  now: number
}

const runColumns: [string, Param<RunRow>][] = [
  ['id', (r) => r.id],
  ['goal', (r) => r.goal ?? null],
  ['requester', (r) => r.requester ?? null],
  ['labels', (r) => json(r.labels ?? {})],
  ['status', (r) => r.status ?? 'running'],
  ['started_at', (r) => r.startedAt ?? r.now],
  ['ended_at', (r) => r.endedAt ?? null],
  ['policy', (r) => json(r.policy ?? null)],
  ['last_progress_at', (r) => r.now],
  ['created_at', (r) => r.now],
  ['updated_at', (r) => r.now],
  // Every write makes the run due for the runs_watch job's next tick (its alerts may change).
  ['next_check_at', () => CHECK_NOW],
]

export const upsertRunSql = statement<RunRow>(
  q`INSERT INTO runs (${runColumns.map(([c]) => c).join(', ')}) VALUES (${join(
    runColumns.map(([, p]) => q<RunRow>`${p}`),
    ', ',
  )}) ON CONFLICT (id) DO UPDATE SET
    last_progress_at = excluded.last_progress_at, updated_at = excluded.updated_at,
    next_check_at = excluded.next_check_at, ${join(
      [
        when<RunRow>('goal', (r) => flag(r.goal !== undefined), 'excluded.goal'),
        when<RunRow>('requester', (r) => flag(r.requester !== undefined), 'excluded.requester'),
        when<RunRow>('labels', (r) => flag(r.labels !== undefined), 'excluded.labels'),
        when<RunRow>('policy', (r) => flag(r.policy !== undefined), 'excluded.policy'),
        when<RunRow>('started_at', (r) => flag(r.startedAt !== undefined), earliest('started_at')),
        when<RunRow>('ended_at', (r) => flag(r.endedAt != null), latest('ended_at')),
        q<RunRow>`status = CASE WHEN ${(r) => flag(r.status !== undefined)}
        AND ${rank(runRank, 'excluded.status')} > ${rank(runRank, 'status')}
        THEN excluded.status ELSE status END`,
      ],
      ', ',
    )}`,
)

/** A run a task names before the run's own create arrived: made with what the task tells. */
export const implicitRunSql = statement<{ id: string; startedAt: number; now: number }>(
  q`INSERT INTO runs (id, started_at, last_progress_at, created_at, updated_at, next_check_at)
    VALUES (${(r) => r.id}, ${(r) => r.startedAt}, ${(r) => r.now}, ${(r) => r.now}, ${(r) => r.now}, ${() => CHECK_NOW})
    ON CONFLICT (id) DO NOTHING`,
)

/** The run's labels one per row (the list's label filter reads them), rebuilt from the run's JSON. */
export const clearLabelsSql = statement<string>(q`DELETE FROM run_labels WHERE run_id = ${(id) => id}`)
export const fillLabelsSql = statement<string>(
  q`INSERT INTO run_labels (name, value, started_at, run_id)
    SELECT j.key, j.value, r.started_at, r.id FROM runs r, json_each(r.labels) j WHERE r.id = ${(id) => id}`,
)

/** The run's totals from its tasks in one pass over them, and its progress time (the stalled check reads it). */
export const syncTotalsSql = statement<{ id: string; now: number }>(
  q`UPDATE runs SET (input_tokens, output_tokens, cost_usd, task_count, failed_count) = (
      SELECT coalesce(sum(t.input_tokens), 0), coalesce(sum(t.output_tokens), 0), coalesce(sum(t.cost_usd), 0),
        count(*), coalesce(sum(t.status = 'failed'), 0)
      FROM run_tasks t WHERE t.run_id = ${(r) => r.id}),
    last_progress_at = max(last_progress_at, ${(r) => r.now}), updated_at = ${(r) => r.now},
    next_check_at = ${() => CHECK_NOW}
    WHERE id = ${(r) => r.id}`,
)

// ---- tasks ----

/** A task write (TaskWrite) with what the batch derived for it and the time of the batch. */
export type TaskRow = {
  t: {
    runId: string
    id: string
    role?: string | null
    title?: string | null
    parentId?: string | null
    dependsOn?: string[]
    branchOf?: string | null
    depth?: number
    attempt?: number
    status?: string
    startedAt?: number
    endedAt?: number | null
    deadlineAt?: number | null
    model?: string | null
    inputTokens?: number
    outputTokens?: number
    costUsd?: number
    error?: string | null
    failureClass?: string | null
    input?: unknown
    output?: unknown
    links?: unknown[]
  }
  derived: { costUsd?: number; failureClass?: string }
  now: number
}
type T = TaskRow

const taskColumns: [string, Param<T>][] = [
  ['run_id', (x) => x.t.runId],
  ['id', (x) => x.t.id],
  ['role', (x) => x.t.role ?? null],
  ['title', (x) => x.t.title ?? null],
  ['parent_id', (x) => x.t.parentId ?? null],
  ['depends_on', (x) => json(x.t.dependsOn ?? [])],
  ['branch_of', (x) => x.t.branchOf ?? null],
  ['depth', (x) => x.t.depth ?? 0],
  ['attempt', (x) => x.t.attempt ?? 1],
  ['status', (x) => x.t.status ?? 'pending'],
  ['started_at', (x) => x.t.startedAt ?? null],
  ['ended_at', (x) => x.t.endedAt ?? null],
  ['attempt_started_at', (x) => (x.t.status === 'running' ? (x.t.startedAt ?? x.now) : null)],
  ['deadline_at', (x) => x.t.deadlineAt ?? null],
  ['model', (x) => x.t.model ?? null],
  ['input_tokens', (x) => x.t.inputTokens ?? 0],
  ['output_tokens', (x) => x.t.outputTokens ?? 0],
  ['cost_usd', (x) => x.t.costUsd ?? x.derived.costUsd ?? 0],
  ['cost_given', (x) => flag(x.t.costUsd !== undefined)],
  ['error', (x) => x.t.error ?? null],
  ['failure_class', (x) => x.t.failureClass ?? x.derived.failureClass ?? null],
  ['input', (x) => json(x.t.input)],
  ['output', (x) => json(x.t.output)],
  ['links', (x) => json(x.t.links ?? [])],
  ['created_at', (x) => x.now],
  ['updated_at', (x) => x.now],
]

/** Fields a write that gives them replaces (excluded.<column>); left out, the stored value stays. */
const replaced: [keyof T['t'], string][] = [
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
  ['error', 'error'],
]

const gives = (key: keyof T['t']) => (x: T) => flag(x.t[key] !== undefined)
// (attempt, rank) only grows: a higher attempt starts the lifecycle again, the same attempt moves up.
const attemptNew = q<T>`(CASE WHEN ${gives('attempt')} THEN excluded.attempt ELSE attempt END)`
const forward = q<T>`(${attemptNew} > attempt OR (${attemptNew} = attempt
  AND ${rank(taskRank, 'excluded.status')} > ${rank(taskRank, 'status')}))`
/** 1: the client's cost (the larger of the two once given); 2: derived from tokens (unless one was given); 0: none. */
const costMode = (x: T) => (x.t.costUsd !== undefined ? 1 : x.derived.costUsd !== undefined ? 2 : 0)
/** 1: a class given or derived; 2: the class cleared (null given); 0: kept. */
const classMode = (x: T) => (x.t.failureClass != null || x.derived.failureClass ? 1 : x.t.failureClass === null ? 2 : 0)

export const upsertTaskSql = statement<T>(
  q`INSERT INTO run_tasks (${taskColumns.map(([c]) => c).join(', ')}) VALUES (${join(
    taskColumns.map(([, p]) => q<T>`${p}`),
    ', ',
  )}) ON CONFLICT (run_id, id) DO UPDATE SET updated_at = excluded.updated_at, ${join(
    [
      ...replaced.map(([key, column]) => when(column, gives(key), `excluded.${column}`)),
      when('started_at', gives('startedAt'), earliest('started_at')),
      when('ended_at', gives('endedAt'), latest('ended_at')),
      when('input_tokens', gives('inputTokens'), 'max(input_tokens, excluded.input_tokens)'),
      when('output_tokens', gives('outputTokens'), 'max(output_tokens, excluded.output_tokens)'),
      q`cost_usd = CASE ${costMode}
        WHEN 1 THEN (CASE WHEN cost_given THEN max(cost_usd, excluded.cost_usd) ELSE excluded.cost_usd END)
        WHEN 2 THEN (CASE WHEN cost_given THEN cost_usd ELSE excluded.cost_usd END)
        ELSE cost_usd END`,
      when('cost_given', gives('costUsd'), '1'),
      q`status = CASE WHEN ${gives('status')} AND ${forward} THEN excluded.status ELSE status END`,
      // The stuck check measures the current attempt from when it started running.
      q`attempt_started_at = CASE WHEN NOT ${gives('status')} THEN attempt_started_at
        WHEN ${forward} AND excluded.status = 'running' THEN excluded.attempt_started_at
        WHEN ${attemptNew} > attempt THEN NULL ELSE attempt_started_at END`,
      when('attempt', gives('attempt'), 'max(attempt, excluded.attempt)'),
      q`failure_class = CASE ${classMode} WHEN 1 THEN excluded.failure_class WHEN 2 THEN NULL ELSE failure_class END`,
    ],
    ', ',
  )}`,
)
