import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ts: integer('ts').notNull(),
    actor: text('actor').notNull(), // "user:<email>", "key:<prefix>", "system", "anonymous"
    action: text('action').notNull(), // "<feature>.<verb>", e.g. "auth.login_failed"
    target: text('target'),
    requestId: text('request_id'),
    ip: text('ip'),
    summary: text('summary').notNull().default(''),
  },
  (t) => [
    index('audit_ts_idx').on(t.ts),
    index('audit_actor_idx').on(t.actor, t.id),
    index('audit_action_idx').on(t.action, t.id),
  ],
)

export type AuditEntry = typeof auditLog.$inferSelect
