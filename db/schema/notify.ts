import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { alerts, type LabelMatcher, type Severity } from './alerts.ts'

/** Silences and maintenance windows: matching alerts are recorded and shown, not notified. */
export const silences = sqliteTable(
  'silences',
  {
    id: text('id').primaryKey(),
    matchers: text('matchers', { mode: 'json' }).$type<LabelMatcher[]>().notNull(),
    startsAt: integer('starts_at').notNull(),
    endsAt: integer('ends_at').notNull(),
    /** A recurring window: active for `durationMs` from each time this Croner pattern fires, within [startsAt, endsAt). */
    cron: text('cron'),
    durationMs: integer('duration_ms'),
    timezone: text('timezone'),
    comment: text('comment').notNull().default(''),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    /** Set when expired early. */
    expiredAt: integer('expired_at'),
    /**
     * Set when an admin marks the silence public: it is shown on the status pages as scheduled
     * maintenance under this title and its window, never with its matchers or comment.
     */
    publicTitle: text('public_title'),
  },
  (t) => [index('silences_ends_idx').on(t.endsAt)],
)

export const channelTypes = ['slack', 'webhook', 'email', 'pagerduty', 'n8n'] as const
export type ChannelType = (typeof channelTypes)[number]

/** Where notifications go. Secrets (webhook URLs, SMTP passwords, routing keys) are sealed with SECRET_KEY. */
export const channels = sqliteTable('channels', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  type: text('type', { enum: channelTypes }).notNull(),
  /** Settings that are not secret (e.g. SMTP host, recipients, PagerDuty base URL, custom headers' names). */
  config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
  /** Sealed JSON of the secret settings; never returned in full. */
  secrets: text('secrets'),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export type Escalation = { afterMs: number; channelIds: string[] }

/** Notification policies, evaluated in `position` order: label matchers → channels, grouping, repeat, escalation. */
export const policies = sqliteTable('policies', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  position: integer('position').notNull(),
  matchers: text('matchers', { mode: 'json' }).$type<LabelMatcher[]>().notNull().default(sql`'[]'`),
  channelIds: text('channel_ids', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
  groupBy: text('group_by', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
  groupWaitMs: integer('group_wait_ms').notNull().default(30_000),
  groupIntervalMs: integer('group_interval_ms').notNull().default(300_000),
  repeatIntervalMs: integer('repeat_interval_ms').notNull().default(14_400_000),
  continue: integer('continue', { mode: 'boolean' }).notNull().default(false),
  sendResolved: integer('send_resolved', { mode: 'boolean' }).notNull().default(true),
  escalations: text('escalations', { mode: 'json' }).$type<Escalation[]>().notNull().default(sql`'[]'`),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const alertWebhookEvents = ['fired', 'resolved', 'acknowledged'] as const
/**
 * Registry changes a subscription may ask for besides alert events (sent with a `data` object
 * instead of alerts): models (deploys, rollbacks, aliases moved) and prompts (versions, labels).
 */
export const registryWebhookEvents = [
  'registry.deployed',
  'registry.deploy_failed',
  'registry.rolled_back',
  'registry.alias_moved',
  'registry.prompt.version_added',
  'registry.prompt.label_moved',
  'registry.prompt.rolled_back',
] as const
/** Multi-agent run events (docs/runs.md#escalation): a run waits for a person, a person chose. */
export const runWebhookEvents = ['run.escalated', 'run.decided'] as const
export const webhookEvents = [...alertWebhookEvents, ...registryWebhookEvents, ...runWebhookEvents] as const
export type WebhookEventName = (typeof webhookEvents)[number]

/** Clients (the n8n Trigger node) subscribed to alert and registry events; delivered through the same outbox. */
export const webhookSubscriptions = sqliteTable('webhook_subscriptions', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  /** Sealed signing secret. */
  secret: text('secret').notNull(),
  events: text('events', { mode: 'json' }).$type<WebhookEventName[]>().notNull(),
  minSeverity: text('min_severity').$type<Severity>(),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
})

export const notificationStatuses = ['pending', 'sending', 'sent', 'failed', 'dead'] as const

/**
 * The outbox: a row is written in the same batch as the alert state change it announces, then
 * sent with retries and backoff by a job; it survives restarts.
 */
export const notifications = sqliteTable(
  'notifications',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    alertId: text('alert_id').references(() => alerts.id, { onDelete: 'cascade' }),
    channelId: text('channel_id').references(() => channels.id, { onDelete: 'cascade' }),
    subscriptionId: text('subscription_id').references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    policyId: text('policy_id'),
    kind: text('kind').notNull(), // fired, resolved, acknowledged, repeated, escalated, test
    groupKey: text('group_key'),
    payload: text('payload', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: notificationStatuses }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastError: text('last_error'),
    response: text('response'),
    createdAt: integer('created_at').notNull(),
    sentAt: integer('sent_at'),
  },
  (t) => [
    index('notifications_due_idx').on(t.status, t.nextAttemptAt),
    index('notifications_alert_idx').on(t.alertId, t.id),
    index('notifications_group_idx').on(t.groupKey, t.createdAt),
  ],
)

export type Silence = typeof silences.$inferSelect
export type Channel = typeof channels.$inferSelect
export type Policy = typeof policies.$inferSelect
export type Notification = typeof notifications.$inferSelect
