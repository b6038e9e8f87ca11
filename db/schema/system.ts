import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value', { mode: 'json' }).notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const jobLeases = sqliteTable('job_leases', {
  name: text('name').primaryKey(),
  holder: text('holder'),
  tick: integer('tick').notNull().default(0), // scheduled time (ms) of the last tick claimed
  expiresAt: integer('expires_at'), // set while a tick runs; null when released
  skipped: integer('skipped').notNull().default(0), // ticks skipped because the previous one still ran
})

export const jobRuns = sqliteTable(
  'job_runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    job: text('job').notNull(),
    instance: text('instance').notNull(),
    tick: integer('tick').notNull(),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at'),
    status: text('status', { enum: ['running', 'success', 'failed', 'skipped'] }).notNull(),
    error: text('error'),
    counts: text('counts', { mode: 'json' }).$type<Record<string, number>>(),
  },
  (t) => [index('job_runs_job_idx').on(t.job, t.id), index('job_runs_started_idx').on(t.startedAt)],
)

export type JobRun = typeof jobRuns.$inferSelect
