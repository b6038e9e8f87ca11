import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/**
 * A prompt of the registry: agents read it by name and label. `revision` goes up on every change
 * (version added, label moved), so a cached answer can be told stale by one number.
 */
export const prompts = sqliteTable('prompts', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  revision: integer('revision').notNull().default(1),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/**
 * One immutable version of a prompt. `hash` is the sha256 of its content (template, variables,
 * parameters): adding the same content again answers the version that has it (a retried write is
 * not a duplicate), hence the unique index.
 */
export const promptVersions = sqliteTable(
  'prompt_versions',
  {
    id: text('id').primaryKey(),
    promptId: text('prompt_id')
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    /** 1, 2, 3… per prompt: the number users, labels and `prompt_score{version}` use. */
    version: integer('version').notNull(),
    template: text('template').notNull(),
    variables: text('variables', { mode: 'json' }).$type<string[]>().notNull(),
    parameters: text('parameters', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    author: text('author').notNull(),
    note: text('note').notNull().default(''),
    hash: text('hash').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('prompt_versions_version').on(t.promptId, t.version),
    uniqueIndex('prompt_versions_hash').on(t.promptId, t.hash),
  ],
)

/** A label (`production`, `staging`, any) pointing at one version of its prompt. */
export const promptLabels = sqliteTable(
  'prompt_labels',
  {
    promptId: text('prompt_id')
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    version: integer('version').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.promptId, t.label] })],
)

/** Every move of a label (by a person, a key, or a healing action): the history and what "previous" means. */
export const promptLabelEvents = sqliteTable(
  'prompt_label_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    promptId: text('prompt_id')
      .notNull()
      .references(() => prompts.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    /** Null when the label was new. */
    fromVersion: integer('from_version'),
    toVersion: integer('to_version').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason').notNull().default(''),
    ts: integer('ts').notNull(),
  },
  (t) => [index('prompt_label_events_label').on(t.promptId, t.label, t.id)],
)

export type Prompt = typeof prompts.$inferSelect
export type PromptVersion = typeof promptVersions.$inferSelect
export type PromptLabel = typeof promptLabels.$inferSelect
export type PromptLabelEvent = typeof promptLabelEvents.$inferSelect
