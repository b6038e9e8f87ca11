import { getTableColumns, sql } from 'drizzle-orm'
import { index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core'

export const ruleKinds = ['threshold', 'ratio', 'change', 'absence', 'anomaly'] as const
export type RuleKind = (typeof ruleKinds)[number]
export const severities = ['critical', 'error', 'warning', 'info'] as const
export type Severity = (typeof severities)[number]
export const comparators = ['>', '>=', '<', '<=', '==', '!='] as const
export type Comparator = (typeof comparators)[number]
export const matcherOps = ['=', '!=', '=~', '!~'] as const
export type LabelMatcher = { label: string; op: (typeof matcherOps)[number]; value: string }
export const alertStatuses = ['pending', 'firing', 'acknowledged', 'resolved'] as const
export type AlertStatus = (typeof alertStatuses)[number]
/** Where an alert came from; receivers add their own names (free text in the database). */
export const alertSources = ['rule', 'api', 'alertmanager', 'prometheus', 'grafana', 'uptime_kuma'] as const
export const alertEventTypes = [
  'created',
  'pending',
  'fired',
  'repeated',
  'acked',
  'unacked',
  'resolved',
  'silenced',
  'unsilenced',
  'notified',
  'escalated',
] as const
export type AlertEventType = (typeof alertEventTypes)[number]

/** Kind-specific settings of a rule. */
export type RuleParams = {
  /** ratio: the denominator metric, and its matchers when they differ from the numerator's. */
  denominator?: string
  denominatorMatchers?: LabelMatcher[]
  /** change: against the previous window, or the mean of window-sized steps over `baselineMs` before it. */
  compareTo?: 'previous' | 'baseline'
  baselineMs?: number
  /** change: the value compared is the change in percent (default) or current ÷ reference. */
  unit?: 'percent' | 'ratio'
  /** absence: no point for this many minutes. */
  minutes?: number
  /** anomaly: |z| of the last step against the window's steps; the step size; which way counts. */
  zScore?: number
  stepMs?: number
  direction?: 'both' | 'up' | 'down'
}

/** A rule: what to evaluate, when it breaches, and what the alerts it makes say. */
export const alertRules = sqliteTable('alert_rules', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  kind: text('kind', { enum: ruleKinds }).notNull(),
  metric: text('metric').notNull(),
  matchers: text('matchers', { mode: 'json' }).$type<LabelMatcher[]>().notNull().default(sql`'[]'`),
  by: text('by', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
  agg: text('agg').notNull().default('avg'),
  windowMs: integer('window_ms').notNull(),
  comparator: text('comparator', { enum: comparators }),
  value: real('value'),
  params: text('params', { mode: 'json' }).$type<RuleParams>().notNull().default(sql`'{}'`),
  forMs: integer('for_ms').notNull().default(0),
  keepFiringForMs: integer('keep_firing_for_ms').notNull().default(0),
  severity: text('severity', { enum: severities }).notNull().default('warning'),
  labels: text('labels', { mode: 'json' }).$type<Record<string, string>>().notNull().default(sql`'{}'`),
  summary: text('summary').notNull().default(''),
  description: text('description').notNull().default(''),
  runbookUrl: text('runbook_url'),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/**
 * One alert per fingerprint (rule + labels, or the sender's labels). A fingerprint that fires
 * again after it resolved reopens its row; the history is in alert_events.
 */
export const alerts = sqliteTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    fingerprint: text('fingerprint').notNull().unique(),
    ruleId: text('rule_id').references(() => alertRules.id, { onDelete: 'set null' }),
    source: text('source').notNull(),
    title: text('title').notNull(),
    status: text('status', { enum: alertStatuses }).notNull(),
    silenced: integer('silenced', { mode: 'boolean' }).notNull().default(false),
    severity: text('severity', { enum: severities }).notNull(),
    labels: text('labels', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    annotations: text('annotations', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    value: real('value'),
    /** When it (last) started firing; null while it has only been pending. */
    startsAt: integer('starts_at'),
    /** Since when the condition holds (pending since). */
    activeAt: integer('active_at').notNull(),
    endsAt: integer('ends_at'),
    lastSeenAt: integer('last_seen_at').notNull(),
    /** Firing reports received since it (last) fired, the first included. */
    repeatCount: integer('repeat_count').notNull().default(0),
    ackBy: text('ack_by'),
    ackAt: integer('ack_at'),
    resolvedBy: text('resolved_by'),
    resolvedAt: integer('resolved_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('alerts_status_idx').on(t.status, t.id),
    index('alerts_rule_idx').on(t.ruleId, t.status),
    index('alerts_active_idx').on(t.activeAt),
    // Only the silenced (few): the silences job finds them without reading every open alert.
    index('alerts_silenced_idx').on(t.id).where(sql`silenced = 1`),
  ],
)

/** Everything that happened to an alert, in order. */
export const alertEvents = sqliteTable(
  'alert_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    alertId: text('alert_id')
      .notNull()
      .references(() => alerts.id, { onDelete: 'cascade' }),
    ts: integer('ts').notNull(),
    type: text('type', { enum: alertEventTypes }).notNull(),
    actor: text('actor').notNull(),
    detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
  },
  (t) => [index('alert_events_alert_idx').on(t.alertId, t.id)],
)

/**
 * Quiet repeats not yet folded into their alert's row: how many came, last seen, updated. A
 * repeat (most of what Prometheus re-sends) moves only these, and this row is about 60 bytes
 * where the alert's is about 700, so a delivery of repeats rewrites a few pages instead of one
 * per alert. An alert's count, last seen and update time are its row's plus these
 * (`storedAlert`); a change of state writes them into the row and deletes this one.
 */
export const alertRepeats = sqliteTable('alert_repeats', {
  alertId: text('alert_id')
    .primaryKey()
    .references(() => alerts.id, { onDelete: 'cascade' }),
  n: integer('n').notNull(),
  lastSeenAt: integer('last_seen_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/** The columns to select for an alert as it stands: its row with its pending repeats (`alertRepeats`) added. */
export const storedAlert = {
  ...getTableColumns(alerts),
  repeatCount:
    sql<number>`(${alerts.repeatCount} + coalesce((select ${alertRepeats.n} from ${alertRepeats} where ${alertRepeats.alertId} = ${alerts.id}), 0))`.mapWith(
      Number,
    ),
  lastSeenAt:
    sql<number>`max(${alerts.lastSeenAt}, coalesce((select ${alertRepeats.lastSeenAt} from ${alertRepeats} where ${alertRepeats.alertId} = ${alerts.id}), 0))`.mapWith(
      Number,
    ),
  updatedAt:
    sql<number>`max(${alerts.updatedAt}, coalesce((select ${alertRepeats.updatedAt} from ${alertRepeats} where ${alertRepeats.alertId} = ${alerts.id}), 0))`.mapWith(
      Number,
    ),
}

/**
 * `storedAlert` for a query that joins `alertRepeats` once (`leftJoin(alertRepeats, eq(alertRepeats.alertId,
 * alerts.id))`): the same values with one lookup of the pending repeats a row instead of three, for
 * reads of many alerts at once (the intake's, whose pages are cold after every commit: ADR 0013).
 */
export const storedAlertJoined = {
  ...getTableColumns(alerts),
  repeatCount: sql<number>`(${alerts.repeatCount} + coalesce(${alertRepeats.n}, 0))`.mapWith(Number),
  lastSeenAt: sql<number>`max(${alerts.lastSeenAt}, coalesce(${alertRepeats.lastSeenAt}, 0))`.mapWith(Number),
  updatedAt: sql<number>`max(${alerts.updatedAt}, coalesce(${alertRepeats.updatedAt}, 0))`.mapWith(Number),
}

export type AlertRule = typeof alertRules.$inferSelect
export type Alert = typeof alerts.$inferSelect
export type AlertEvent = typeof alertEvents.$inferSelect
