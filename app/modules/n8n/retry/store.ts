/** The retry history: what the caps count and the workflow page shows. */
import { and, count, desc, eq, gte, ne } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { type N8nRetryRow, n8nExecutions, n8nRetries } from '../../../../db/schema/n8n.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'

export const recordRetry = (db: Db, row: Omit<N8nRetryRow, 'id'>) =>
  db.insert(n8nRetries).values({ id: newId(row.at), ...row })

/** The execution as the poll stored it (class, node), or undefined when the poll has not seen it. */
export const storedExecution = async (db: Db, instanceId: string, id: string) =>
  (
    await db
      .select()
      .from(n8nExecutions)
      .where(and(eq(n8nExecutions.instanceId, instanceId), eq(n8nExecutions.id, id)))
  )[0]

/** The failed execution a retry made here belongs to (so a retry's own failure joins its chain), or the id itself. */
export async function chainRoot(db: Db, instanceId: string, executionId: string) {
  const [made] = await db
    .select({ executionId: n8nRetries.executionId })
    .from(n8nRetries)
    .where(and(eq(n8nRetries.instanceId, instanceId), eq(n8nRetries.retryExecutionId, executionId)))
    .limit(1)
  return made?.executionId ?? executionId
}

/** The retries sent to n8n for one execution, newest first (refusals left out). */
export const retriesOf = (db: Db, instanceId: string, executionId: string) =>
  db
    .select()
    .from(n8nRetries)
    .where(
      and(
        eq(n8nRetries.instanceId, instanceId),
        eq(n8nRetries.executionId, executionId),
        ne(n8nRetries.outcome, 'refused'),
      ),
    )
    .orderBy(desc(n8nRetries.at))

/** Retries sent to n8n for a workflow since `from` (the hourly cap). */
export async function retriesSince(db: Db, instanceId: string, workflowId: string, from: number) {
  const [row] = await db
    .select({ n: count() })
    .from(n8nRetries)
    .where(
      and(
        eq(n8nRetries.instanceId, instanceId),
        eq(n8nRetries.workflowId, workflowId),
        gte(n8nRetries.at, from),
        ne(n8nRetries.outcome, 'refused'),
      ),
    )
  return row?.n ?? 0
}

/** A workflow's retry history, newest first (its page and `GET …/workflows/:id`). */
export const workflowRetries = (db: Db, instanceId: string, workflowId: string, limit = 50) =>
  db
    .select()
    .from(n8nRetries)
    .where(and(eq(n8nRetries.instanceId, instanceId), eq(n8nRetries.workflowId, workflowId)))
    .orderBy(desc(n8nRetries.at), desc(n8nRetries.id))
    .limit(limit)

export const retryJson = (r: N8nRetryRow) => ({
  at: toIso(r.at),
  executionId: r.executionId,
  attempt: r.attempt,
  outcome: r.outcome,
  retryExecutionId: r.retryExecutionId,
  class: r.failureClass,
  node: r.failingNode,
  message: r.message,
  actionId: r.actionId,
})
