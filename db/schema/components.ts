import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

export const componentKinds = ['agent', 'service', 'model', 'workflow', 'database', 'vector_store'] as const
export type ComponentKind = (typeof componentKinds)[number]
export const checkTypes = ['http', 'push'] as const
export type CheckType = (typeof checkTypes)[number]
export const httpMethods = ['GET', 'HEAD', 'POST'] as const
export type ComponentState = 'up' | 'down' | 'unknown'

/**
 * What is monitored: an agent, service, model, workflow, database or vector store, with either an
 * active HTTP check or a push heartbeat (Uptime Kuma style). The current status is kept on the row
 * so lists and the overview read it without scanning the history.
 */
export const components = sqliteTable(
  'components',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull().unique(),
    kind: text('kind', { enum: componentKinds }).notNull(),
    description: text('description').notNull().default(''),
    labels: text('labels', { mode: 'json' }).$type<Record<string, string>>().notNull().default(sql`'{}'`),
    checkType: text('check_type', { enum: checkTypes }).notNull(),
    // HTTP check
    url: text('url'),
    method: text('method', { enum: httpMethods }),
    intervalSeconds: integer('interval_seconds'),
    timeoutMs: integer('timeout_ms'),
    expectedStatus: text('expected_status', { mode: 'json' }).$type<string[]>(), // e.g. ["200-399"], ["204"]
    expectedBodyText: text('expected_body_text'),
    // Push heartbeat: the token is looked up by its hash and kept sealed (AES-GCM) to show operators.
    pushTokenHash: text('push_token_hash').unique(),
    pushTokenSealed: text('push_token_sealed'),
    expectedIntervalSeconds: integer('expected_interval_seconds'),
    graceSeconds: integer('grace_seconds'),
    /** HTTP: when the next check is due. Push: when a missing heartbeat is next recorded. */
    nextCheckAt: integer('next_check_at'),
    status: text('status', { enum: ['up', 'down', 'unknown'] })
      .notNull()
      .default('unknown'),
    statusSince: integer('status_since'),
    lastCheckAt: integer('last_check_at'),
    lastMessage: text('last_message'),
    lastLatencyMs: real('last_latency_ms'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('components_due_idx').on(t.checkType, t.nextCheckAt)],
)

/** One row per check result, heartbeat or missed heartbeat. */
export const statusHistory = sqliteTable(
  'status_history',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    componentId: text('component_id')
      .notNull()
      .references(() => components.id, { onDelete: 'cascade' }),
    ts: integer('ts').notNull(),
    up: integer('up', { mode: 'boolean' }).notNull(),
    source: text('source', { enum: ['http', 'push', 'missed'] }).notNull(),
    code: integer('code'), // HTTP status, when a response came back
    message: text('message'), // error text, push msg, "missed heartbeat"
    latencyMs: real('latency_ms'),
    // The previous result: its time, its state, and how long that state held from then (until this
    // result, capped at two check intervals). Uptime sums these over a covering index, no window functions.
    prevTs: integer('prev_ts'),
    prevUp: integer('prev_up', { mode: 'boolean' }),
    heldMs: integer('held_ms').notNull().default(0),
  },
  (t) => [
    index('status_history_uptime_idx').on(t.componentId, t.ts, t.prevTs, t.prevUp, t.heldMs),
    index('status_history_ts_idx').on(t.ts),
  ],
)

/**
 * The status history summed per component and UTC day (the day each held state began, as the
 * status pages' bars count it): time up and time known, in ms. Kept by triggers on status_history
 * (migration 0027), so every writer (checks, heartbeats, imports, a result recorded late for a day
 * already over) adds to its day in the same statement, and 90 days of bars read 90 rows a component
 * instead of aggregating every result (ADR 0021). Pruned with the history by the checks job.
 */
export const statusDaily = sqliteTable(
  'status_daily',
  {
    componentId: text('component_id')
      .notNull()
      .references(() => components.id, { onDelete: 'cascade' }),
    day: integer('day').notNull(), // UTC days since the epoch
    upMs: integer('up_ms').notNull().default(0),
    knownMs: integer('known_ms').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.componentId, t.day] })],
)

/** Per-model LLM prices in USD per 1 million tokens, from an effective time on. */
export const prices = sqliteTable(
  'prices',
  {
    id: text('id').primaryKey(),
    model: text('model').notNull(),
    promptPer1M: real('prompt_per_1m').notNull(),
    completionPer1M: real('completion_per_1m').notNull(),
    effectiveFrom: integer('effective_from').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('prices_model_from_idx').on(t.model, t.effectiveFrom)],
)

export type Component = typeof components.$inferSelect
export type StatusRow = typeof statusHistory.$inferSelect
export type Price = typeof prices.$inferSelect
