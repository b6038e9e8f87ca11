/**
 * Reading and writing healing actions and their timeline: the statements every transition is
 * made of, and the JSON shapes of the API.
 */
import { clip, REPLY_CHARS } from '../actions/define.ts'
import { maskHeaders } from '../actions/headers.ts'
import { and, asc, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../../db/client.ts'
import {
  healingActions,
  healingEvents,
  healingLocks,
  type HealingAction,
  type HealingEvent,
  type HealingNotify,
  type HealingStatus,
  type HealingVerification,
} from '../../../../db/schema/healing.ts'
import { notFound } from '../../../lib/errors.ts'
import { page } from '../../../lib/pagination.ts'
import { toIso } from '../../../lib/time.ts'
import { actionUrl } from '../notices.ts'
import type { HealingCtx } from '../types.ts'

/** What an action carries from its rule (or the manual request) when it is created: the plan it follows. */
export type Plan = { verification: HealingVerification; rollbackOnFailure: boolean; notify: HealingNotify }

export const planOf = (a: HealingAction): Plan => {
  const p = (a.output.plan ?? {}) as Partial<Plan>
  return {
    verification: p.verification ?? { type: 'none' },
    rollbackOnFailure: p.rollbackOnFailure ?? true,
    notify: p.notify ?? { channelIds: [], on: [] },
  }
}

export type Batch = [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]

/** A timeline entry. */
export const eventRow = (
  db: Db,
  actionId: string,
  ts: number,
  status: string,
  actor: string,
  message = '',
  detail: Record<string, unknown> = {},
) => db.insert(healingEvents).values({ actionId, ts, status, actor, message: message.slice(0, 2000), detail })

/** Deletes the lock of a target if this action holds it. */
export const releaseLock = (db: Db, a: Pick<HealingAction, 'id' | 'target'>) =>
  db.delete(healingLocks).where(and(eq(healingLocks.target, a.target), eq(healingLocks.actionId, a.id)))

/** Statements that apply only when the transition they go with was the one applied (same batch). */
export type Guarded = {
  event(status: string, actor: string, message: string, detail?: Record<string, unknown>): BatchItem<'sqlite'>
  releaseLock(): BatchItem<'sqlite'>
  refreshLock(at: number): BatchItem<'sqlite'>
}

/**
 * Moves an action from one status to another only if it is still in `from` (a compare-and-set),
 * with the statements `extra` builds (timeline first, then lock changes) in the SAME batch — each
 * guarded to apply only when this caller's UPDATE changed the row (the event: `changes()`) and the
 * row now has this transition's status and `updatedAt`, so a lost race writes no timeline entry. Returns the row when this caller made the change, undefined when someone else did first.
 */
export async function transition(
  db: Db,
  a: Pick<HealingAction, 'id' | 'target'>,
  from: HealingStatus | HealingStatus[],
  set: Partial<HealingAction> & { status: HealingStatus; updatedAt: number },
  extra: (g: Guarded) => BatchItem<'sqlite'>[] = () => [],
  also?: SQL,
): Promise<HealingAction | undefined> {
  const froms = Array.isArray(from) ? from : [from]
  const applied = sql`exists (select 1 from healing_actions where id = ${a.id} and status = ${set.status} and updated_at = ${set.updatedAt})`
  const g: Guarded = {
    // changes(): the rows the UPDATE just before changed, in this batch — so an event must come first in `extra`.
    event: (status, actor, message, detail = {}) =>
      db.run(
        sql`insert into healing_events (action_id, ts, status, actor, message, detail) select ${a.id}, ${set.updatedAt}, ${status}, ${actor}, ${message.slice(0, 2000)}, ${JSON.stringify(detail)} where changes() = 1 and ${applied}`,
      ),
    releaseLock: () =>
      db.run(sql`delete from healing_locks where target = ${a.target} and action_id = ${a.id} and ${applied}`),
    refreshLock: (at) =>
      db.run(
        sql`update healing_locks set acquired_at = ${at} where target = ${a.target} and action_id = ${a.id} and ${applied}`,
      ),
  }
  const [updated] = await db.batch([
    db
      .update(healingActions)
      .set(set)
      .where(and(eq(healingActions.id, a.id), inArray(healingActions.status, froms), also))
      .returning(),
    ...extra(g),
  ] as Batch)
  return (updated as HealingAction[])[0]
}

/** `transition`; the action is announced to the live feed when this caller moved it. */
export async function move(deps: Pick<HealingCtx, 'db' | 'changed'>, ...rest: Tail<Parameters<typeof transition>>) {
  const row = await transition(deps.db, ...rest)
  if (row) deps.changed?.([row.id])
  return row
}
type Tail<T extends unknown[]> = T extends [unknown, ...infer R] ? R : never

export async function getAction(db: Db, id: string) {
  const [row] = await db.select().from(healingActions).where(eq(healingActions.id, id))
  if (!row) throw notFound('Healing action')
  return row
}

export const timeline = (db: Db, id: string) =>
  db.select().from(healingEvents).where(eq(healingEvents.actionId, id)).orderBy(asc(healingEvents.id))

export type ActionFilter = {
  status?: HealingStatus[]
  ruleId?: string
  target?: string
  actionType?: string
  limit: number
  cursor?: string
}

/** Newest first; the cursor is the last id seen. */
export async function listActions(db: Db, f: ActionFilter) {
  const where: SQL[] = []
  if (f.status?.length) where.push(inArray(healingActions.status, f.status))
  if (f.ruleId) where.push(eq(healingActions.ruleId, f.ruleId))
  if (f.target) where.push(eq(healingActions.target, f.target))
  if (f.actionType) where.push(eq(healingActions.actionType, f.actionType))
  if (f.cursor) where.push(lt(healingActions.id, f.cursor))
  const rows = await db
    .select()
    .from(healingActions)
    .where(and(...where))
    .orderBy(desc(healingActions.id))
    .limit(f.limit + 1)
  return page(rows, f.limit, (r) => r.id)
}

const HIDDEN = '[hidden: operators only]'

function replies(value: unknown, operator: boolean, depth: number): unknown {
  if (depth > 8 || !value || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((x) => replies(x, operator, depth + 1))
  return Object.fromEntries(
    Object.entries(value).map(([k, x]) => [
      k,
      k === 'response' && typeof x === 'string'
        ? operator
          ? clip(x, REPLY_CHARS)
          : HIDDEN
        : replies(x, operator, depth + 1),
    ]),
  )
}

/**
 * An action's output as a caller may see it: what outbound calls answered (`response`, at any
 * depth: results, errors, verification) goes to operators only, truncated; viewers get it hidden.
 */
export const outputFor = (output: Record<string, unknown>, operator: boolean) =>
  replies(output, operator, 0) as Record<string, unknown>

/** The API shape; `operator` shows the replies of outbound calls (viewers never see them). */
export const actionJson = (a: HealingAction, publicUrl?: string, operator = false) => ({
  id: a.id,
  ruleId: a.ruleId,
  trigger: { ...a.trigger, at: toIso(a.trigger.at) },
  actionType: a.actionType,
  target: a.target,
  params: maskHeaders(a.params),
  status: a.status,
  reason: a.reason,
  priority: a.priority,
  dryRun: a.dryRun,
  attempt: a.attempt,
  maxAttempts: a.maxAttempts,
  runAfter: toIso(a.runAfter),
  requestedBy: a.requestedBy,
  decidedBy: a.decidedBy,
  decidedAt: toIso(a.decidedAt),
  approvalExpiresAt: toIso(a.approvalExpiresAt),
  createdAt: toIso(a.createdAt),
  startedAt: toIso(a.startedAt),
  verifyAt: a.status === 'VERIFYING' ? toIso(a.verifyAt) : null,
  finishedAt: toIso(a.finishedAt),
  durationMs: a.finishedAt && a.startedAt ? a.finishedAt - a.startedAt : null,
  output: outputFor(a.output, operator),
  error: a.error,
  updatedAt: toIso(a.updatedAt),
  ...(publicUrl
    ? {
        url: actionUrl(publicUrl, a.id),
        ...(a.status === 'PENDING_APPROVAL'
          ? {
              approveUrl: `${publicUrl}/api/v1/healing/actions/${a.id}/approve`,
              rejectUrl: `${publicUrl}/api/v1/healing/actions/${a.id}/reject`,
            }
          : {}),
      }
    : {}),
})

export const eventJson = (e: HealingEvent) => ({
  id: e.id,
  ts: toIso(e.ts),
  status: e.status,
  actor: e.actor,
  message: e.message,
  detail: e.detail,
})

/** Actions not yet final: the orchestrator's whole working set (indexed by status). */
export const activeActions = (db: Db) =>
  db
    .select()
    .from(healingActions)
    .where(
      or(
        eq(healingActions.status, 'PENDING'),
        eq(healingActions.status, 'PENDING_APPROVAL'),
        eq(healingActions.status, 'RUNNING'),
        eq(healingActions.status, 'VERIFYING'),
      ),
    )
    .orderBy(desc(healingActions.priority), asc(healingActions.runAfter))
    .limit(2000)
