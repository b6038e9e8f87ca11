import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

export const roles = ['viewer', 'operator', 'admin'] as const
export type Role = (typeof roles)[number]
export const themes = ['light', 'dark'] as const
export type Theme = (typeof themes)[number]

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull().default(''),
  role: text('role', { enum: roles }).notNull(),
  passwordHash: text('password_hash').notNull(),
  totpSecret: text('totp_secret'), // encrypted with SECRET_KEY
  totpEnabledAt: integer('totp_enabled_at'),
  totpLastStep: integer('totp_last_step'), // the 30 s step of the last code accepted: a code works once (RFC 6238 §5.2)
  recoveryCodes: text('recovery_codes', { mode: 'json' }).$type<string[]>(), // sha256 hashes, used ones removed
  failedLogins: integer('failed_logins').notNull().default(0),
  lockedUntil: integer('locked_until'),
  lastLoginAt: integer('last_login_at'),
  /** The dashboard theme the user chose; null follows the system (prefers-color-scheme). */
  theme: text('theme', { enum: themes }),
  createdAt: integer('created_at').notNull().default(now),
  updatedAt: integer('updated_at').notNull().default(now),
})

export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(), // sha256 of the cookie token; the token itself is never stored
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expires_idx').on(t.expiresAt)],
)

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    prefix: text('prefix').notNull().unique(), // visible part, e.g. hs_1a2b3c4d
    keyHash: text('key_hash').notNull().unique(), // sha256 of the whole key
    name: text('name').notNull(),
    role: text('role', { enum: roles }).notNull(),
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
    // The one alert source an ingest key reports as (alertmanager, grafana, …); null: any source.
    source: text('source'),
    createdBy: text('created_by'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_keys_created_idx').on(t.createdAt)],
)

export const setupTokens = sqliteTable('setup_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
})

export type User = typeof users.$inferSelect
export type Session = typeof sessions.$inferSelect
export type ApiKey = typeof apiKeys.$inferSelect
