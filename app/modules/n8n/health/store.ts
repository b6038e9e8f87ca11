/** Reads and writes of workflow health's tables; every query parameterised through Drizzle. */
import { and, asc, desc, eq, gte, inArray, isNull, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  n8nRetries,
  type N8nExecutionRow,
  type N8nPollState,
  type NewN8nWorkflow,
  n8nExecutions,
  n8nFailureRules,
  n8nPollState,
  n8nWorkflows,
} from '../../../../db/schema/n8n.ts'
import { compileUserRegex } from '../../../lib/safe-regex.ts'
import type { CompiledRule } from './classify.ts'

const CHUNK = 400
const chunks = <T>(rows: T[]) =>
  Array.from({ length: Math.ceil(rows.length / CHUNK) }, (_, i) => rows.slice(i * CHUNK, (i + 1) * CHUNK))
const excluded = (col: string) => sql.raw(`excluded.${col}`)

export async function pollStateOf(db: Db, instanceId: string): Promise<N8nPollState> {
  const [row] = await db.select().from(n8nPollState).where(eq(n8nPollState.instanceId, instanceId))
  return (
    row ?? {
      instanceId,
      watermark: 0,
      pending: {},
      reachable: null,
      error: null,
      version: null,
      versionCheckedAt: null,
      lastPollAt: null,
      lastOkAt: null,
      lastCalls: 0,
    }
  )
}

export const allPollStates = (db: Db) => db.select().from(n8nPollState)

export function savePollState(db: Db, s: N8nPollState) {
  const { instanceId, ...rest } = s
  return db.insert(n8nPollState).values(s).onConflictDoUpdate({ target: n8nPollState.instanceId, set: rest })
}

/**
 * A poll's writes in one batch (one transaction): executions, workflow rows with their counters,
 * and the watermark. A poll that dies half-way writes nothing, so no execution is counted twice.
 */
export async function writePoll(
  db: Db,
  w: { executions: N8nExecutionRow[]; workflows: NewN8nWorkflow[]; gone: string[]; state: N8nPollState },
) {
  await db.batch([
    savePollState(db, w.state),
    ...upsertExecutions(db, w.executions),
    ...upsertWorkflows(db, w.workflows),
    ...deleteWorkflows(db, w.state.instanceId, w.gone),
  ])
}

export async function workflowsOf(db: Db, instanceId: string) {
  const rows = await db.select().from(n8nWorkflows).where(eq(n8nWorkflows.instanceId, instanceId))
  return new Map(rows.map((r) => [r.workflowId, r]))
}

const WF_COLS = [
  'name',
  'active',
  'active_since',
  'trigger',
  'state',
  'state_reason',
  'last_run_at',
  'last_success_at',
  'last_failure_at',
  'consecutive_failures',
  'counts',
  'failures',
  'missed_since',
  'deactivated_at',
  'open_failures',
  'seen_at',
  'updated_at',
] as const
const camel = (s: string) => s.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())

/** Statements writing workflow rows; `expect_every_ms` is left as it is (only the API sets it). */
export function upsertWorkflows(db: Db, rows: NewN8nWorkflow[]) {
  const set = Object.fromEntries(WF_COLS.map((c) => [camel(c), excluded(c)]))
  return chunks(rows).map((part) =>
    db
      .insert(n8nWorkflows)
      .values(part)
      .onConflictDoUpdate({ target: [n8nWorkflows.instanceId, n8nWorkflows.workflowId], set }),
  )
}

export function deleteWorkflows(db: Db, instanceId: string, ids: string[]) {
  return chunks(ids).map((part) =>
    db.delete(n8nWorkflows).where(and(eq(n8nWorkflows.instanceId, instanceId), inArray(n8nWorkflows.workflowId, part))),
  )
}

const EX_COLS = [
  'workflow_id',
  'status',
  'mode',
  'started_at',
  'stopped_at',
  'duration_ms',
  'retry_of',
  'failure_class',
  'failing_node',
  'node_type',
  'http_code',
  'message',
] as const

export function upsertExecutions(db: Db, rows: N8nExecutionRow[]) {
  const set = Object.fromEntries(EX_COLS.map((c) => [camel(c), excluded(c)]))
  return chunks(rows).map((part) =>
    db
      .insert(n8nExecutions)
      .values(part)
      .onConflictDoUpdate({ target: [n8nExecutions.instanceId, n8nExecutions.id], set }),
  )
}

/** Failed executions of an instance not classified yet (past a poll's budget), newest first. */
export const unclassified = (db: Db, instanceId: string, limit: number) =>
  db
    .select()
    .from(n8nExecutions)
    .where(
      and(
        eq(n8nExecutions.instanceId, instanceId),
        inArray(n8nExecutions.status, ['error', 'crashed']),
        isNull(n8nExecutions.failureClass),
      ),
    )
    .orderBy(desc(n8nExecutions.seenAt))
    .limit(limit)

/** Per workflow of an instance since `from`: final runs and failures (for rates and the degraded state). */
export async function runsSince(db: Db, instanceId: string, from: number) {
  const rows = await db
    .select({
      workflowId: n8nExecutions.workflowId,
      runs: sql<number>`sum(case when ${n8nExecutions.status} in ('success','error','crashed','canceled') then 1 else 0 end)`,
      failures: sql<number>`sum(case when ${n8nExecutions.status} in ('error','crashed') then 1 else 0 end)`,
    })
    .from(n8nExecutions)
    .where(and(eq(n8nExecutions.instanceId, instanceId), gte(n8nExecutions.startedAt, from)))
    .groupBy(n8nExecutions.workflowId)
  return new Map(rows.map((r) => [r.workflowId, { runs: Number(r.runs ?? 0), failures: Number(r.failures ?? 0) }]))
}

/** Executions and the retry history are kept as long as each other (N8N_EXECUTIONS_RETENTION_DAYS). */
export const pruneExecutions = (db: Db, before: number) =>
  db.batch([
    db.delete(n8nExecutions).where(lt(n8nExecutions.seenAt, before)),
    db.delete(n8nRetries).where(lt(n8nRetries.at, before)),
  ])

/** The enabled rules in order, compiled once per poll (patterns on the RE2-style engine). */
export async function compiledRules(db: Db): Promise<CompiledRule[]> {
  const rows = await db
    .select()
    .from(n8nFailureRules)
    .where(eq(n8nFailureRules.enabled, true))
    .orderBy(asc(n8nFailureRules.position), asc(n8nFailureRules.createdAt))
  const out: CompiledRule[] = []
  for (const r of rows) {
    try {
      // A match anywhere in the message (as RegExp.test), not the whole message as a label matcher.
      const pattern = r.pattern ? compileUserRegex(r.pattern, { anchored: false }) : null
      out.push({ failureClass: r.failureClass, pattern, nodeType: r.nodeType, httpStatus: r.httpStatus })
    } catch {
      // Checked when saved; a pattern refused later (a tighter engine limit) leaves the rule out.
    }
  }
  return out
}
