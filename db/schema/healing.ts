import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { Comparator, LabelMatcher } from './alerts.ts'

/** What starts a healing rule. */
export type HealingTrigger =
  /** An alert firing: from one alert rule, or any alert whose labels match. */
  | { type: 'alert'; ruleId?: string; matchers?: LabelMatcher[] }
  /** The rule's own detection over a metric; `targetLabel` names the label whose value is the target (e.g. component). */
  | {
      type: 'detection'
      metric: string
      matchers?: LabelMatcher[]
      agg: string
      windowMs: number
      comparator: Comparator
      value: number
      targetLabel?: string
      targetPattern?: string
    }
  /** A circuit breaker opening; `keyPattern` is a regular expression over breaker keys. */
  | { type: 'breaker'; keyPattern: string }

/** What must hold after an action for it to count as a recovery. */
export type HealingVerification =
  | { type: 'none' }
  | {
      type: 'metric'
      metric: string
      matchers?: LabelMatcher[]
      agg: string
      windowMs: number
      comparator: Comparator
      value: number
      afterMs: number
      timeoutMs?: number
    }
  | { type: 'breaker_closed'; key: string; afterMs: number; timeoutMs?: number }
  | { type: 'alert_resolved'; afterMs: number; timeoutMs?: number }
  | { type: 'http'; url: string; expectStatus?: number; afterMs: number; timeoutMs?: number }

export type HealingNotify = { channelIds: string[]; on: ('start' | 'success' | 'failure' | 'approval')[] }

export const healingModes = ['automated', 'requires_approval'] as const

export const healingRules = sqliteTable('healing_rules', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  trigger: text('trigger', { mode: 'json' }).$type<HealingTrigger>().notNull(),
  actionType: text('action_type').notNull(),
  /** What the action works on (a route name, a component, a workflow id, a command name); may hold `{{label}}` placeholders filled from the trigger. */
  target: text('target').notNull(),
  params: text('params', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
  mode: text('mode', { enum: healingModes }).notNull().default('automated'),
  cooldownMs: integer('cooldown_ms').notNull().default(300_000),
  maxPerHour: integer('max_per_hour').notNull().default(6),
  priority: integer('priority').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull().default(3),
  approvalTtlMs: integer('approval_ttl_ms').notNull().default(3_600_000),
  verification: text('verification', { mode: 'json' })
    .$type<HealingVerification>()
    .notNull()
    .default(sql`'{"type":"none"}'`),
  rollbackOnFailure: integer('rollback_on_failure', { mode: 'boolean' }).notNull().default(true),
  notify: text('notify', { mode: 'json' }).$type<HealingNotify>().notNull().default(sql`'{"channelIds":[],"on":[]}'`),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const healingStatuses = [
  'PENDING_APPROVAL',
  'PENDING',
  'RUNNING',
  'VERIFYING',
  'SUCCESS',
  'FAILED',
  'ROLLED_BACK',
  'REJECTED',
  'EXPIRED',
  'SKIPPED',
] as const
export type HealingStatus = (typeof healingStatuses)[number]
export const finalHealingStatuses: readonly HealingStatus[] = [
  'SUCCESS',
  'FAILED',
  'ROLLED_BACK',
  'REJECTED',
  'EXPIRED',
  'SKIPPED',
]

export type HealingTriggerRef = {
  type: 'alert' | 'detection' | 'breaker' | 'manual' | 'api'
  ref?: string
  summary: string
  labels?: Record<string, string>
  at: number
}

/** One remediation run. Its status is written before each side effect, so a restart can resume it or fail it, never run it twice. */
export const healingActions = sqliteTable(
  'healing_actions',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id').references(() => healingRules.id, { onDelete: 'set null' }),
    trigger: text('trigger', { mode: 'json' }).$type<HealingTriggerRef>().notNull(),
    actionType: text('action_type').notNull(),
    target: text('target').notNull(),
    params: text('params', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    status: text('status', { enum: healingStatuses }).notNull(),
    /** Why it was skipped, failed, rejected or expired. */
    reason: text('reason'),
    priority: integer('priority').notNull().default(0),
    dryRun: integer('dry_run', { mode: 'boolean' }).notNull().default(false),
    attempt: integer('attempt').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    /** When a PENDING action may next run (backoff between attempts). */
    runAfter: integer('run_after').notNull(),
    requestedBy: text('requested_by').notNull(),
    decidedBy: text('decided_by'),
    decidedAt: integer('decided_at'),
    approvalExpiresAt: integer('approval_expires_at'),
    /** A retried request with the same key returns the same action. */
    idempotencyKey: text('idempotency_key'),
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    verifyAt: integer('verify_at'),
    finishedAt: integer('finished_at'),
    /** Output of execute/verify/rollback, for the timeline. */
    output: text('output', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    error: text('error'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('healing_actions_status_idx').on(t.status, t.priority, t.runAfter),
    index('healing_actions_target_idx').on(t.target, t.createdAt),
    index('healing_actions_rule_idx').on(t.ruleId, t.createdAt),
    uniqueIndex('healing_actions_idem_idx').on(t.idempotencyKey),
  ],
)

/** The timeline of an action: every status change and note, in order. */
export const healingEvents = sqliteTable(
  'healing_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    actionId: text('action_id')
      .notNull()
      .references(() => healingActions.id, { onDelete: 'cascade' }),
    ts: integer('ts').notNull(),
    status: text('status').notNull(),
    actor: text('actor').notNull(),
    message: text('message').notNull().default(''),
    detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
  },
  (t) => [index('healing_events_action_idx').on(t.actionId, t.id)],
)

/** One running action per target: a row here is the lock; taking it is an INSERT that fails when held. */
export const healingLocks = sqliteTable('healing_locks', {
  target: text('target').primaryKey(),
  actionId: text('action_id').notNull(),
  acquiredAt: integer('acquired_at').notNull(),
})

export const breakerStates = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const
export type BreakerState = (typeof breakerStates)[number]
export type BreakerSettings = {
  windowSize: number
  failureRate: number
  minCalls: number
  baseBackoffMs: number
  maxBackoffMs: number
  successesToClose: number
}

/** A circuit breaker per component or route target, fed by checks and by reports. */
export const circuitBreakers = sqliteTable('circuit_breakers', {
  key: text('key').primaryKey(),
  state: text('state', { enum: breakerStates }).notNull().default('CLOSED'),
  /** The last `windowSize` outcomes, newest last: 1 success, 0 failure. */
  window: text('window', { mode: 'json' }).$type<number[]>().notNull().default(sql`'[]'`),
  settings: text('settings', { mode: 'json' }).$type<BreakerSettings>().notNull(),
  /** Times it opened in a row without closing: the backoff doubles with each. */
  openCount: integer('open_count').notNull().default(0),
  openedAt: integer('opened_at'),
  /** When an OPEN breaker lets a probe through (HALF_OPEN). */
  retryAt: integer('retry_at'),
  halfOpenSuccesses: integer('half_open_successes').notNull().default(0),
  lastFailureAt: integer('last_failure_at'),
  lastSuccessAt: integer('last_success_at'),
  lastError: text('last_error'),
  updatedAt: integer('updated_at').notNull(),
})

export const breakerEvents = sqliteTable(
  'breaker_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    ts: integer('ts').notNull(),
    from: text('from_state').notNull(),
    to: text('to_state').notNull(),
    reason: text('reason').notNull().default(''),
  },
  (t) => [index('breaker_events_key_idx').on(t.key, t.id)],
)

export type RouteTarget = { model: string; host: string; weight?: number }

/** A named model route: ordered targets, the one in use, and when to fail back to the primary. */
export const modelRoutes = sqliteTable('model_routes', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  targets: text('targets', { mode: 'json' }).$type<RouteTarget[]>().notNull(),
  activeIndex: integer('active_index').notNull().default(0),
  /** The primary must be healthy this long (probes) before traffic fails back to it. */
  failbackAfterMs: integer('failback_after_ms').notNull().default(60_000),
  /** Health probe of a target: path appended to its host (e.g. /api/tags for Ollama); empty = breakers only. */
  probePath: text('probe_path').notNull().default(''),
  /** Bumped on every change; the ETag. */
  version: integer('version').notNull().default(1),
  changedAt: integer('changed_at').notNull(),
  changeReason: text('change_reason').notNull().default('created'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const modelRouteEvents = sqliteTable(
  'model_route_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    routeId: text('route_id')
      .notNull()
      .references(() => modelRoutes.id, { onDelete: 'cascade' }),
    ts: integer('ts').notNull(),
    fromIndex: integer('from_index').notNull(),
    toIndex: integer('to_index').notNull(),
    reason: text('reason').notNull(),
    actor: text('actor').notNull(),
  },
  (t) => [index('model_route_events_route_idx').on(t.routeId, t.id)],
)

/** n8n instances the `n8n` action talks to through n8n's public API; the API key is sealed with SECRET_KEY. */
export const n8nInstances = sqliteTable('n8n_instances', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  baseUrl: text('base_url').notNull(),
  apiKey: text('api_key').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export type HealingRule = typeof healingRules.$inferSelect
export type HealingAction = typeof healingActions.$inferSelect
export type HealingEvent = typeof healingEvents.$inferSelect
export type CircuitBreaker = typeof circuitBreakers.$inferSelect
export type ModelRoute = typeof modelRoutes.$inferSelect
export type N8nInstance = typeof n8nInstances.$inferSelect
