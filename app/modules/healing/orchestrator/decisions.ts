/** A person's answer to an approval request: compare-and-set, so of two people deciding at once one wins. */
import { eq, sql } from 'drizzle-orm'
import { healingActions, type HealingAction } from '../../../../db/schema/healing.ts'
import { AppError, conflict, notFound } from '../../../lib/errors.ts'
import type { HealingCtx } from '../types.ts'
import { move } from './store.ts'

/** Approves a pending request: it runs at the next tick. 409 when decided already, 410 when it expired. */
export async function approveAction(deps: HealingCtx, id: string, actor: string, now: number) {
  return decide(deps, id, actor, now, 'approve')
}

export async function rejectAction(deps: HealingCtx, id: string, actor: string, now: number, comment?: string) {
  return decide(deps, id, actor, now, 'reject', comment)
}

async function decide(
  deps: HealingCtx,
  id: string,
  actor: string,
  now: number,
  verb: 'approve' | 'reject',
  comment?: string,
) {
  const { db } = deps
  const refuse = (a: HealingAction) => {
    if (
      a.status === 'EXPIRED' ||
      (a.status === 'PENDING_APPROVAL' && a.approvalExpiresAt !== null && a.approvalExpiresAt <= now)
    ) {
      return new AppError(
        410,
        'approval_expired',
        `The approval request expired at ${new Date(a.approvalExpiresAt ?? now).toISOString()}; it can no longer be ${verb}d`,
      )
    }
    if (a.decidedBy)
      return conflict(
        `The action was already ${a.status === 'REJECTED' ? 'rejected' : 'approved'} by ${a.decidedBy}; it is ${a.status}`,
      )
    return conflict(`The action does not wait for approval; it is ${a.status}`)
  }
  const find = async () => (await db.select().from(healingActions).where(eq(healingActions.id, id)))[0]
  const before = await find()
  if (!before) throw notFound('Healing action')
  if (before.status !== 'PENDING_APPROVAL' || (before.approvalExpiresAt !== null && before.approvalExpiresAt <= now))
    throw refuse(before)
  const set =
    verb === 'approve'
      ? { status: 'PENDING' as const, runAfter: now }
      : { status: 'REJECTED' as const, reason: comment ? `rejected: ${comment}` : 'rejected', finishedAt: now }
  // Compare-and-set: of two people deciding at once, one wins; the other gets the 409.
  const row = await move(
    deps,
    before,
    'PENDING_APPROVAL',
    { ...set, decidedBy: actor, decidedAt: now, updatedAt: now },
    (g) => [g.event(set.status, actor, verb === 'approve' ? 'approved' : `rejected${comment ? `: ${comment}` : ''}`)],
    sql`${healingActions.approvalExpiresAt} > ${now}`,
  )
  if (row) return row
  throw refuse((await find()) ?? before)
}
