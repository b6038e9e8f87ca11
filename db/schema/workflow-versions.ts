import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/** How a version came to be: seen by a pull, or written to n8n by a rollback (or a re-create). */
export const workflowVersionKinds = ['pull', 'rollback', 'recreate'] as const
export type WorkflowVersionKind = (typeof workflowVersionKinds)[number]

/**
 * One stored version of an n8n workflow. A row is written only when the workflow's normalised
 * content hash differs from its latest row (or by a rollback). Workflow ids are unique per n8n
 * instance only, so every key starts with the instance.
 */
export const workflowVersions = sqliteTable(
  'workflow_versions',
  {
    id: text('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    /** 1, 2, 3… per workflow of an instance: the number users see and pass to diff and rollback. */
    seq: integer('seq').notNull(),
    name: text('name').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull(),
    /** sha256 of the normalised JSON (see normalise.ts): what decides whether a pull stores a row. */
    hash: text('hash').notNull(),
    /** The workflow as n8n gave it (name, nodes, connections, settings, active), sealed: parameters may hold secrets. */
    content: text('content').notNull(),
    nodeCount: integer('node_count').notNull(),
    n8nVersionId: text('n8n_version_id'),
    /** Who changed it in n8n when n8n tells (its workflow history's authors), else "unknown"; for rollbacks, the Homeostat actor. */
    author: text('author').notNull(),
    kind: text('kind', { enum: workflowVersionKinds }).notNull(),
    /** For a rollback or re-create: the version put back. */
    restoredSeq: integer('restored_seq'),
    /** n8n's updatedAt of the workflow (ms), when it gave one. */
    changedAt: integer('changed_at'),
    /** When Homeostat stored the row (ms). */
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('workflow_versions_seq').on(t.instanceId, t.workflowId, t.seq),
    index('workflow_versions_created').on(t.instanceId, t.createdAt),
  ],
)

export type WorkflowVersion = typeof workflowVersions.$inferSelect
export type NewWorkflowVersion = typeof workflowVersions.$inferInsert
