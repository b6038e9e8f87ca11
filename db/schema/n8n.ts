import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/** A workflow's health state (see docs/n8n.md#states). */
export const workflowStates = ['healthy', 'degraded', 'failing', 'stopped', 'inactive', 'unknown'] as const
export type WorkflowState = (typeof workflowStates)[number]

/** What a failed execution is put down to (see docs/n8n.md#failure-classes). */
export const failureClasses = [
  'credentials',
  'rate_limit',
  'timeout',
  'network',
  'upstream_5xx',
  'expression',
  'code',
  'resource',
  'unknown',
] as const
export type FailureClass = (typeof failureClasses)[number]

/**
 * Per n8n instance: how far its executions have been read (the newest execution id seen, and the
 * older ids still to look at again), whether the last poll reached it, and its version.
 */
export const n8nPollState = sqliteTable('n8n_poll_state', {
  instanceId: text('instance_id').primaryKey(),
  /** The highest execution id read (n8n's ids are increasing integers). 0 before the first poll. */
  watermark: integer('watermark').notNull().default(0),
  /**
   * Execution ids at or below the watermark not yet seen finished, each with when it was first
   * missed (JSON {id: ms}): running or waiting executions, which n8n's list leaves out or shows
   * unfinished. The poll reads back far enough to see them, and gives up on one after an hour.
   */
  pending: text('pending', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
  reachable: integer('reachable', { mode: 'boolean' }),
  error: text('error'),
  version: text('version'),
  versionCheckedAt: integer('version_checked_at'),
  lastPollAt: integer('last_poll_at'),
  lastOkAt: integer('last_ok_at'),
  /** Requests the last poll made (shown on the page; the benchmark reads it). */
  lastCalls: integer('last_calls').notNull().default(0),
})

/** What a workflow's trigger makes Homeostat expect (computed from its nodes at each poll). */
export type TriggerSummary = {
  kind: 'schedule' | 'cron' | 'webhook' | 'other' | 'none'
  /** Croner patterns (6 fields, with seconds) the schedule fires on, and how many fires make one run. */
  rules: { cron: string; every: number; label: string }[]
  timezone: string | null
}

/** Per workflow of an instance: what was seen in n8n, its counters, its state and open alerts. */
export const n8nWorkflows = sqliteTable(
  'n8n_workflows',
  {
    instanceId: text('instance_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    name: text('name').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull(),
    /** Since when it has been active without a break, as far as Homeostat saw (for missed-run checks). */
    activeSince: integer('active_since'),
    trigger: text('trigger', { mode: 'json' }).$type<TriggerSummary>().notNull(),
    state: text('state', { enum: workflowStates }).notNull().default('unknown'),
    stateReason: text('state_reason'),
    lastRunAt: integer('last_run_at'),
    lastSuccessAt: integer('last_success_at'),
    lastFailureAt: integer('last_failure_at'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    /** Executions counted since Homeostat first saw the workflow, by status (the _total counters' values). */
    counts: text('counts', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
    failures: text('failures', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
    /** "Expect at least one execution every N ms" (webhook-driven workflows), set through the API. */
    expectEveryMs: integer('expect_every_ms'),
    /** The expected run that did not happen (ms) while `n8n_schedule_missed` is open. */
    missedSince: integer('missed_since'),
    /** When it was seen switched off while `n8n_workflow_deactivated` is open. */
    deactivatedAt: integer('deactivated_at'),
    /** Label sets of the open `n8n_execution_failed` alerts (resolved by the next success). */
    openFailures: text('open_failures', { mode: 'json' }).$type<Record<string, string>[]>().notNull().default([]),
    seenAt: integer('seen_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.workflowId] })],
)

/** Executions read from n8n: the list's fields, and for failed ones the class, node and message. */
export const n8nExecutions = sqliteTable(
  'n8n_executions',
  {
    instanceId: text('instance_id').notNull(),
    id: text('id').notNull(),
    workflowId: text('workflow_id').notNull(),
    status: text('status').notNull(),
    mode: text('mode'),
    startedAt: integer('started_at'),
    stoppedAt: integer('stopped_at'),
    durationMs: integer('duration_ms'),
    retryOf: text('retry_of'),
    failureClass: text('failure_class', { enum: failureClasses }),
    failingNode: text('failing_node'),
    nodeType: text('node_type'),
    httpCode: integer('http_code'),
    /** n8n's error message, cut to 500 characters (it can hold a whole response body). */
    message: text('message'),
    seenAt: integer('seen_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.instanceId, t.id] }),
    index('n8n_executions_workflow').on(t.instanceId, t.workflowId, t.startedAt),
    index('n8n_executions_seen').on(t.seenAt),
  ],
)

/** A user's failure-class rule: the first enabled rule (by position) whose conditions all hold wins. */
export const n8nFailureRules = sqliteTable('n8n_failure_rules', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  position: integer('position').notNull().default(0),
  /** RE2 pattern on the error message (app/lib/safe-regex.ts). */
  pattern: text('pattern'),
  nodeType: text('node_type'),
  httpStatus: integer('http_status'),
  failureClass: text('failure_class', { enum: failureClasses }).notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export type N8nPollState = typeof n8nPollState.$inferSelect
export type N8nWorkflow = typeof n8nWorkflows.$inferSelect
export type NewN8nWorkflow = typeof n8nWorkflows.$inferInsert
export type N8nExecutionRow = typeof n8nExecutions.$inferSelect
export type N8nFailureRule = typeof n8nFailureRules.$inferSelect

/** What became of one automatic retry (see docs/n8n.md#capped-auto-retry). */
export const retryOutcomes = ['succeeded', 'failed', 'gave_up', 'refused'] as const
export type RetryOutcome = (typeof retryOutcomes)[number]

/**
 * Each automatic retry of a failed execution (the `n8n_retry` healing action), and each refusal:
 * the caps count these rows, and the workflow page shows them as its retry history.
 */
export const n8nRetries = sqliteTable(
  'n8n_retries',
  {
    id: text('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    /** The failed execution the chain retries (the first of the chain, never a retry made here). */
    executionId: text('execution_id').notNull(),
    /** 1 for the first retry of the execution; 0 for a refusal (nothing was sent to n8n). */
    attempt: integer('attempt').notNull(),
    at: integer('at').notNull(),
    /** The execution n8n made for the retry (null when refused or n8n gave none). */
    retryExecutionId: text('retry_execution_id'),
    outcome: text('outcome', { enum: retryOutcomes }).notNull(),
    failureClass: text('failure_class', { enum: failureClasses }),
    failingNode: text('failing_node'),
    message: text('message'),
    /** The healing action that made it (its timeline has the same steps). */
    actionId: text('action_id'),
  },
  (t) => [
    index('n8n_retries_execution').on(t.instanceId, t.executionId),
    index('n8n_retries_workflow').on(t.instanceId, t.workflowId, t.at),
    index('n8n_retries_made').on(t.instanceId, t.retryExecutionId),
  ],
)
export type N8nRetryRow = typeof n8nRetries.$inferSelect
