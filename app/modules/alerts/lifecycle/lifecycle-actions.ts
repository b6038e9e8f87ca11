/**
 * People's actions on one alert (and the silences job's): acknowledge, unacknowledge, resolve by
 * hand, set or clear `silenced`. Each takes the alert's turn in the per-fingerprint queue and
 * writes its change through the hooks, like a report (lifecycle.ts).
 */
import { and, eq, ne } from 'drizzle-orm'
import { alerts, type Alert } from '../../../../db/schema/alerts.ts'
import { AppError, notFound } from '../../../lib/errors.ts'
import { find, write, type EventInput, type LifecycleDeps } from './lifecycle.ts'

async function act(
  deps: LifecycleDeps,
  id: string,
  at: number,
  change: (a: Alert) => { after: Alert; event: EventInput } | null,
) {
  const found = (
    await deps.db.select({ fingerprint: alerts.fingerprint }).from(alerts).where(eq(alerts.id, id)).limit(1)
  )[0]
  if (!found) throw notFound('Alert')
  return deps.turns.serialized(found.fingerprint, async () => {
    const before = (await find(deps.db, found.fingerprint))!
    const next = change(before)
    if (!next) return before // nothing to change
    return write(deps, { before, after: { ...next.after, updatedAt: at }, events: [next.event], at }, false)
  })
}

const refuse = (message: string) => new AppError(409, 'conflict', message)

/** Who acts on an alert. */
export type ByPerson = { actor: string }

/** A firing alert becomes acknowledged: someone is on it. */
export const acknowledgeAlert = (deps: LifecycleDeps, id: string, { actor }: ByPerson, at = Date.now()) =>
  act(deps, id, at, (a) => {
    if (a.status !== 'firing') throw refuse(`Only a firing alert can be acknowledged; this one is ${a.status}`)
    return { after: { ...a, status: 'acknowledged', ackBy: actor, ackAt: at }, event: { type: 'acked', actor } }
  })

/** An acknowledged alert goes back to firing. */
export const unacknowledgeAlert = (deps: LifecycleDeps, id: string, { actor }: ByPerson, at = Date.now()) =>
  act(deps, id, at, (a) => {
    if (a.status !== 'acknowledged')
      throw refuse(`Only an acknowledged alert can be unacknowledged; this one is ${a.status}`)
    return {
      after: { ...a, status: 'firing', ackBy: null, ackAt: null },
      event: { type: 'unacked', actor, detail: { ackBy: a.ackBy } },
    }
  })

/** Resolves an open alert by hand. A rule whose condition still holds fires it again at its next evaluation. */
export const resolveAlert = (
  deps: LifecycleDeps,
  id: string,
  { actor }: ByPerson,
  at = Date.now(),
  reason = 'manual',
) =>
  act(deps, id, at, (a) => {
    if (a.status === 'resolved') throw refuse('The alert is already resolved')
    return {
      after: { ...a, status: 'resolved', endsAt: at, resolvedBy: actor, resolvedAt: at },
      event: { type: 'resolved', actor, detail: { reason, from: a.status } },
    }
  })

/**
 * Sets or clears an alert's `silenced` flag, with a `silenced` or `unsilenced` event, through the
 * hooks like any other change (the silences job calls it as silences start and end). The outbox
 * sees `before.silenced !== after.silenced`; an `unsilenced` alert that is still firing is
 * notified then. Nothing is written when the flag already is so.
 */
export const setSilenced = (
  deps: LifecycleDeps,
  id: string,
  silenced: boolean,
  { actor }: ByPerson,
  at = Date.now(),
  detail: Record<string, unknown> = {},
) =>
  act(deps, id, at, (a) => {
    if (a.silenced === silenced) return null
    return {
      after: { ...a, silenced },
      event: { type: silenced ? 'silenced' : 'unsilenced', actor, detail: { ...detail, status: a.status } },
    }
  })

/** Resolves a rule's open alerts (the rule was disabled or deleted); returns how many were open. */
export async function resolveRuleAlerts(
  deps: LifecycleDeps,
  ruleId: string,
  actor: string,
  reason: string,
  now = Date.now(),
) {
  const open = await deps.db
    .select({ id: alerts.id })
    .from(alerts)
    .where(and(eq(alerts.ruleId, ruleId), ne(alerts.status, 'resolved')))
  for (const a of open) await resolveAlert(deps, a.id, { actor }, now, reason).catch(() => undefined) // resolved meanwhile
  return open.length
}
