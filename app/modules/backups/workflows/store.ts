/** The workflow_versions table: reads for the API and pages, and the writes of pulls and rollbacks. */
import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  type NewWorkflowVersion,
  type WorkflowVersion,
  workflowVersions,
} from '../../../../db/schema/workflow-versions.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import type { WorkflowContent } from './normalise.ts'

const t = workflowVersions

/** Binds sealed content to its row's key, so a sealed value cannot be moved to another workflow's row. */
export const contentAad = (r: { instanceId: string; workflowId: string; seq: number }) =>
  `workflow_versions:${r.instanceId}:${r.workflowId}:${r.seq}`

export const openContent = (sealer: Sealer, r: WorkflowVersion): WorkflowContent =>
  JSON.parse(sealer.open(r.content, contentAad(r))) as WorkflowContent

/**
 * The row is its workflow's latest. The outer table is named in full: Drizzle leaves column names
 * unqualified in a one-table select, which inside the subquery would mean the inner table.
 */
const isLatest = sql`${t.seq} = (select max(w.seq) from workflow_versions w
  where w.instance_id = workflow_versions.instance_id and w.workflow_id = workflow_versions.workflow_id)`

/** The latest row's hash and number of every workflow of an instance. */
export async function latestOf(db: Db, instanceId: string) {
  const rows = await db
    .select({ workflowId: t.workflowId, seq: t.seq, hash: t.hash })
    .from(t)
    .where(and(eq(t.instanceId, instanceId), isLatest))
  return new Map(rows.map((r) => [r.workflowId, r]))
}

/** Inserts versions; a row another pull stored first (same workflow and number) is skipped, not an error. */
export async function insertVersions(db: Db, rows: NewWorkflowVersion[]) {
  for (let i = 0; i < rows.length; i += 100)
    await db
      .insert(t)
      .values(rows.slice(i, i + 100))
      .onConflictDoNothing()
}

/** Known workflows (their latest version) with version counts, optionally of one instance. */
export async function listWorkflows(db: Db, instanceId?: string) {
  return db
    .select({
      instanceId: t.instanceId,
      workflowId: t.workflowId,
      name: t.name,
      active: t.active,
      latest: t.seq,
      versions: sql<number>`(select count(*) from workflow_versions w
        where w.instance_id = workflow_versions.instance_id and w.workflow_id = workflow_versions.workflow_id)`,
      lastChangeAt: t.createdAt,
      // The instance's name, for callers that know instances by name (the n8n Backup node's list).
      instanceName: sql<string | null>`(select i.name from n8n_instances i where i.id = workflow_versions.instance_id)`,
    })
    .from(t)
    .where(and(instanceId ? eq(t.instanceId, instanceId) : undefined, isLatest))
    .orderBy(asc(t.instanceId), asc(t.name), asc(t.workflowId))
}

/** A workflow's versions, newest first, by cursor (the number below which to continue). */
export const listVersions = (db: Db, instanceId: string, workflowId: string, limit: number, before?: number) =>
  db
    .select()
    .from(t)
    .where(
      and(
        eq(t.instanceId, instanceId),
        eq(t.workflowId, workflowId),
        before !== undefined ? lt(t.seq, before) : undefined,
      ),
    )
    .orderBy(desc(t.seq))
    .limit(limit)

export async function getVersion(db: Db, instanceId: string, workflowId: string, seq: number) {
  const [row] = await db
    .select()
    .from(t)
    .where(and(eq(t.instanceId, instanceId), eq(t.workflowId, workflowId), eq(t.seq, seq)))
  return row
}

export async function latestVersion(db: Db, instanceId: string, workflowId: string) {
  const [row] = await db
    .select()
    .from(t)
    .where(and(eq(t.instanceId, instanceId), eq(t.workflowId, workflowId)))
    .orderBy(desc(t.seq))
    .limit(1)
  return row
}

/** Every version of an instance in a stable order, a page at a time (for the export's stream). */
export const exportPage = (db: Db, instanceId: string, after: string | undefined, limit: number) =>
  db
    .select()
    .from(t)
    .where(and(eq(t.instanceId, instanceId), after ? gt(t.id, after) : undefined))
    .orderBy(asc(t.id))
    .limit(limit)
