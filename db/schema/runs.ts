import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/** A run's lifecycle (docs/runs.md#status). `escalated` waits for a person; it is not final. */
export const runStatuses = ['running', 'succeeded', 'failed', 'escalated', 'aborted'] as const
export type RunStatus = (typeof runStatuses)[number]

/** A task's lifecycle (docs/runs.md#status). */
export const taskStatuses = ['pending', 'blocked', 'running', 'succeeded', 'failed', 'skipped', 'escalated'] as const
export type TaskStatus = (typeof taskStatuses)[number]

/** What a failed task is put down to (docs/runs.md#failure-classes). */
export const runFailureClasses = [
  'syntax',
  'test_failure',
  'runtime_error',
  'timeout',
  'dependency',
  'rate_limit',
  'model_error',
  'tool_error',
  'bad_output',
  'budget',
  'unknown',
] as const
export type RunFailureClass = (typeof runFailureClasses)[number]

/** What the policy answers a failure with, and what a person may choose for an escalated run. */
export const decisionActions = ['retry', 'branch', 'escalate'] as const
export type DecisionAction = (typeof decisionActions)[number]
export const humanChoices = ['retry', 'abort', 'take_over'] as const
export type HumanChoice = (typeof humanChoices)[number]

/** A link to an artifact too large to keep inline (a log, a diff, a report in object storage). */
export type ArtifactLink = { name: string; url: string; size?: number; type?: string }

/** Why a run waits for a person, and what the person chose (null while it waits). */
export type RunEscalation = { reason: string; taskId: string | null; class: RunFailureClass | null; at: number }
export type HumanDecision = { action: HumanChoice; note: string | null; by: string; at: number }

/** A run policy as stored: every field optional, merged over the defaults (docs/runs.md#policy). */
export type PolicyRoute = { action: DecisionAction; role?: string; delayMs?: number }
export type RunPolicy = {
  maxAttempts?: number
  maxDepth?: number
  budgetCostUsd?: number
  budgetDurationMs?: number
  stuckFactor?: number
  stalledMinutes?: number
  routes?: Partial<Record<RunFailureClass, PolicyRoute>>
}

/**
 * One multi-agent run, keyed by the id its client gives (so a retried create is the same run).
 * Totals are kept current by every task write, so the list never sums tasks.
 */
export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    goal: text('goal'),
    requester: text('requester'),
    labels: text('labels', { mode: 'json' }).$type<Record<string, string>>().notNull().default({}),
    status: text('status', { enum: runStatuses }).notNull().default('running'),
    startedAt: integer('started_at').notNull(),
    endedAt: integer('ended_at'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    costUsd: real('cost_usd').notNull().default(0),
    /** Tasks and failed ones, for the list without a join. */
    taskCount: integer('task_count').notNull().default(0),
    failedCount: integer('failed_count').notNull().default(0),
    /** This run's own policy override (merged over the default and its labels' policies). */
    policy: text('policy', { mode: 'json' }).$type<RunPolicy>(),
    escalation: text('escalation', { mode: 'json' }).$type<RunEscalation>(),
    decision: text('decision', { mode: 'json' }).$type<HumanDecision>(),
    /** The last write that moved the run or one of its tasks (the stalled check reads it). */
    lastProgressAt: integer('last_progress_at').notNull(),
    /** Alert names open for this run (run_stalled, run_over_budget), so the job resolves only what it raised. */
    openAlerts: text('open_alerts', { mode: 'json' }).$type<string[]>().notNull().default([]),
    /**
     * When the runs_watch job must look at this run next (docs/adr/0015-runs-watch-next-check.md):
     * 0 after every write to it (due at the next tick), the time its stalled or duration limit passes
     * once the job has looked, null when nothing but a write can change its alerts.
     */
    nextCheckAt: integer('next_check_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('runs_started_idx').on(t.startedAt, t.id),
    index('runs_status_started_idx').on(t.status, t.startedAt, t.id),
    // Partial indexes hold only the few rows their readers want: the queue page's "decided lately"
    // and the runs_watch job's runs with an alert of ours open (docs/runs.md#stuck-stalled-over-budget).
    index('runs_decided_idx').on(t.updatedAt).where(sql`${t.decision} IS NOT NULL`),
    index('runs_alerted_idx').on(t.id).where(sql`${t.openAlerts} <> '[]'`),
    // The runs_watch job's due runs: only runs with a next check hold an entry (written or waiting
    // for a limit), so a tick over a big, quiet table reads nothing.
    index('runs_check_idx').on(t.nextCheckAt).where(sql`${t.nextCheckAt} IS NOT NULL`),
  ],
)
export type Run = typeof runs.$inferSelect

/** A run's labels one per row, so `?label=team:multi` is an index lookup, not a JSON scan. WITHOUT ROWID. */
export const runLabels = sqliteTable(
  'run_labels',
  {
    name: text('name').notNull(),
    value: text('value').notNull(),
    startedAt: integer('started_at').notNull(),
    runId: text('run_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.value, t.startedAt, t.runId] }), index('run_labels_run_idx').on(t.runId)],
)

/**
 * A task of a run (a node of its graph), keyed by (run, client-given id). `attempt` and the status
 * move only forward together (docs/runs.md#out-of-order-updates). WITHOUT ROWID, clustered by run.
 */
export const runTasks = sqliteTable(
  'run_tasks',
  {
    runId: text('run_id').notNull(),
    id: text('id').notNull(),
    role: text('role'),
    title: text('title'),
    parentId: text('parent_id'),
    dependsOn: text('depends_on', { mode: 'json' }).$type<string[]>().notNull().default([]),
    /** The failed task this one is a branch of (made by a `branch` decision, or reported by the client). */
    branchOf: text('branch_of'),
    depth: integer('depth').notNull().default(0),
    attempt: integer('attempt').notNull().default(1),
    status: text('status', { enum: taskStatuses }).notNull().default('pending'),
    startedAt: integer('started_at'),
    endedAt: integer('ended_at'),
    /** When the current attempt started running (the stuck check measures from it). */
    attemptStartedAt: integer('attempt_started_at'),
    /** An explicit deadline (ms) for the current attempt; otherwise p95 of its role × the policy's factor. */
    deadlineAt: integer('deadline_at'),
    model: text('model'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    costUsd: real('cost_usd').notNull().default(0),
    /** Whether the client gave the cost (kept) or it came from the price table (recomputed with tokens). */
    costGiven: integer('cost_given', { mode: 'boolean' }).notNull().default(false),
    error: text('error'),
    failureClass: text('failure_class', { enum: runFailureClasses }),
    input: text('input', { mode: 'json' }).$type<unknown>(),
    output: text('output', { mode: 'json' }).$type<unknown>(),
    links: text('links', { mode: 'json' }).$type<ArtifactLink[]>().notNull().default([]),
    /** When `run_task_stuck` was raised for the current attempt (null when not open). */
    stuckSince: integer('stuck_since'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.id] }),
    index('run_tasks_role_idx').on(t.role, t.status, t.endedAt),
    index('run_tasks_class_idx').on(t.failureClass, t.runId),
    index('run_tasks_running_idx').on(t.status, t.attemptStartedAt),
    // The runs_watch job's tasks flagged stuck (few), without a scan of every task.
    index('run_tasks_stuck_idx').on(t.stuckSince).where(sql`${t.stuckSince} IS NOT NULL`),
  ],
)
export type RunTask = typeof runTasks.$inferSelect

/**
 * One failure report per (run, task, attempt) and the decision answered: the same report sent
 * twice answers the stored decision and counts no second attempt. Also the failure history the
 * reports count classes from. WITHOUT ROWID.
 */
export const runFailures = sqliteTable(
  'run_failures',
  {
    runId: text('run_id').notNull(),
    taskId: text('task_id').notNull(),
    attempt: integer('attempt').notNull(),
    role: text('role'),
    model: text('model'),
    class: text('class', { enum: runFailureClasses }).notNull(),
    error: text('error').notNull(),
    decision: text('decision', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    at: integer('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.taskId, t.attempt] }), index('run_failures_at_idx').on(t.at, t.class)],
)
export type RunFailure = typeof runFailures.$inferSelect

/**
 * Stored run policies: scope `default`, or `label:<name>=<value>` for runs carrying that label.
 * Each is partial and merged over the built-in defaults (docs/runs.md#policy).
 */
export const runPolicies = sqliteTable('run_policies', {
  scope: text('scope').primaryKey(),
  policy: text('policy', { mode: 'json' }).$type<RunPolicy>().notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/** Users' classification rules, tried in position order before the built-in classifier; first match wins. */
export const runClassRules = sqliteTable(
  'run_class_rules',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** An RE2 pattern over the error text (app/lib/safe-regex.ts). */
    pattern: text('pattern'),
    /** Only tasks of this role, when set. */
    role: text('role'),
    /** An attribute that must be present (and equal `attributeValue` when that is set). */
    attribute: text('attribute'),
    attributeValue: text('attribute_value'),
    class: text('class', { enum: runFailureClasses }).notNull(),
    position: integer('position').notNull().default(0),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('run_class_rules_position_idx').on(t.position, t.id)],
)
export type RunClassRule = typeof runClassRules.$inferSelect
