import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/** The registry's models half (issue 19): models, their versions, Ollama hosts, what is live where, aliases. */

export const modelVersionStatuses = ['training', 'ready', 'deployed', 'deprecated', 'failed', 'archived'] as const
export type ModelVersionStatus = (typeof modelVersionStatuses)[number]

/** A model the team customises (e.g. `custom-qwen-finance`); the id is the client's, so a retried create is not a second model. */
export const models = sqliteTable('models', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  baseModel: text('base_model').notNull(),
  tags: text('tags', { mode: 'json' }).$type<string[]>().notNull(),
  notes: text('notes').notNull().default(''),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export type TrainingInfo = {
  source?: string
  datasetId?: string
  recordCount?: number
  /** Epoch ms. */
  trainedAt?: number
  config?: Record<string, unknown>
}

/** One version of a model: its semver is unique within the model (the client-given key of an idempotent create). */
export const modelVersions = sqliteTable(
  'model_versions',
  {
    id: text('id').primaryKey(),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    previousVersion: text('previous_version'),
    modelfile: text('modelfile').notNull(),
    sha256: text('sha256').notNull(),
    training: text('training', { mode: 'json' }).$type<TrainingInfo>().notNull(),
    status: text('status', { enum: modelVersionStatuses }).notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('model_versions_model_version_idx').on(t.modelId, t.version)],
)

/** An Ollama server versions are deployed to. The optional auth header's value is sealed (AAD `ollama_hosts:<id>:auth`). */
export const ollamaHosts = sqliteTable('ollama_hosts', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  url: text('url').notNull(),
  authHeaderName: text('auth_header_name'),
  authHeaderValue: text('auth_header_value'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/** What is live now: one row per host and model (the version behind `<model>:live` on that host). */
export const deployments = sqliteTable(
  'deployments',
  {
    hostId: text('host_id')
      .notNull()
      .references(() => ollamaHosts.id, { onDelete: 'cascade' }),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    versionId: text('version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'cascade' }),
    /** The deployment_history row that made it live. */
    historyId: text('history_id').notNull(),
    since: integer('since').notNull(),
    by: text('by').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hostId, t.modelId] })],
)

export const deploymentKinds = ['deploy', 'rollback'] as const
export const deploymentStatuses = ['running', 'succeeded', 'failed'] as const
export type DeploymentStatus = (typeof deploymentStatuses)[number]

/** Every deploy and rollback attempt, its progress summary and outcome. */
export const deploymentHistory = sqliteTable(
  'deployment_history',
  {
    id: text('id').primaryKey(),
    hostId: text('host_id')
      .notNull()
      .references(() => ollamaHosts.id, { onDelete: 'cascade' }),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    versionId: text('version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'cascade' }),
    /** The version live before (null for the first deploy on the host). */
    fromVersionId: text('from_version_id'),
    kind: text('kind', { enum: deploymentKinds }).notNull(),
    status: text('status', { enum: deploymentStatuses }).notNull(),
    /** How it was done: `create+copy`, or `copy` for a rollback to a version still on the host. */
    method: text('method').notNull().default(''),
    /** The last progress lines Ollama sent (capped), for the history view. */
    progress: text('progress', { mode: 'json' }).$type<string[]>().notNull(),
    error: text('error'),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at'),
    by: text('by').notNull(),
  },
  (t) => [index('deployment_history_model_idx').on(t.modelId, t.startedAt)],
)

/** A name (`production`, `canary`, …) pointing at one version of a model; model routes may follow it. */
export const modelAliases = sqliteTable(
  'model_aliases',
  {
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    versionId: text('version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'cascade' }),
    movedBy: text('moved_by').notNull(),
    movedAt: integer('moved_at').notNull(),
    reason: text('reason').notNull().default(''),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.name] })],
)

export type Model = typeof models.$inferSelect
export type ModelVersion = typeof modelVersions.$inferSelect
export type OllamaHost = typeof ollamaHosts.$inferSelect
export type Deployment = typeof deployments.$inferSelect
export type DeploymentRecord = typeof deploymentHistory.$inferSelect
export type ModelAlias = typeof modelAliases.$inferSelect
