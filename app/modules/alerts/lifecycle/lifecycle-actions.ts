/**
 * People's actions on one alert (and the silences job's): acknowledge, unacknowledge, resolve by
 * hand, set or clear `silenced`. Each takes the alert's turn in the per-fingerprint queue and
 * writes its change through the hooks, like a report (lifecycle.ts).
 *
 * The audit rule: a change a person makes (`by.audit` given: every route and page passes it) writes
 * its audit_log row in the same transaction as the alert row, its events and the hooks' rows, so
 * either all of them commit or none. Machine changes (rules, receivers' reports, the silences job,
 * a rule's alerts resolved as it is disabled) keep their history in alert_events and add no audit
 * row of their own; a receiver's delivery and the generic API write theirs (one per request) with
 * the same transaction too (see `ReportsOptions.rows`).
 */
import { and, eq, ne } from 'drizzle-orm'
import { alerts, type Alert } from '../../../../db/schema/alerts.ts'
import { AppError, notFound } from '../../../lib/errors.ts'
import {
  find,
  staleRow,
  WRITE_ATTEMPTS,
  write,
  type EventInput,
  type LifecycleDeps,
  type TableRow,
} from './lifecycle.ts'

/** What an audit row of a person's change to an alert says (the caller adds who, request id and ip). */
export type AlertAudit = { action: string; target: string; summary: string }

/**
 * Who acts on an alert; `audit` makes the audit row of the change (a route or page: `auditRow(c, …)`),
 * written in the change's transaction. Without it (the silences job, tests) no audit row is written.
 */
export type ByPerson = { actor: string; audit?: (entry: AlertAudit) => TableRow }

async function act(
  deps: LifecycleDeps,
  id: string,
  at: number,
  by: ByPerson,
  action: string,
  change: (a: Alert) => { after: Alert; event: EventInput } | null,
) {
  const found = (
    await deps.db.select({ fingerprint: alerts.fingerprint }).from(alerts).where(eq(alerts.id, id)).limit(1)
  )[0]
  if (!found) throw notFound('Alert')
  return deps.turns.serialized(found.fingerprint, async () => {
    // The write is conditional on the alert as read (see `write`): if another instance changed it
    // meanwhile (a repeat, someone else's acknowledge), the change is worked out again on the row
    // as it now stands, and refused then if it no longer applies (a 409).
    for (let attempt = 1; ; attempt++) {
      const before = await find(deps.db, found.fingerprint)
      if (!before) throw notFound('Alert')
      const next = change(before)
      if (!next) return before // nothing to change
      const after = { ...next.after, updatedAt: at }
      const audit = by.audit ? [by.audit({ action, target: after.id, summary: after.title })] : []
      try {
        return await write(deps, { before, after, events: [next.event], at }, false, audit)
      } catch (error) {
        if (attempt < WRITE_ATTEMPTS && staleRow(error)) continue
        throw error
      }
    }
  })
}

const refuse = (message: string) => new AppError(409, 'conflict', message)

/** A firing alert becomes acknowledged: someone is on it. */
export const acknowledgeAlert = (deps: LifecycleDeps, id: string, by: ByPerson, at = Date.now()) =>
  act(deps, id, at, by, 'alert.acknowledged', (a) => {
    const { actor } = by
    if (a.status !== 'firing') throw refuse(`Only a firing alert can be acknowledged; this one is ${a.status}`)
    return { after: { ...a, status: 'acknowledged', ackBy: actor, ackAt: at }, event: { type: 'acked', actor } }
  })

/** An acknowledged alert goes back to firing. */
export const unacknowledgeAlert = (deps: LifecycleDeps, id: string, by: ByPerson, at = Date.now()) =>
  act(deps, id, at, by, 'alert.unacknowledged', (a) => {
    const { actor } = by
    if (a.status !== 'acknowledged')
      throw refuse(`Only an acknowledged alert can be unacknowledged; this one is ${a.status}`)
    return {
      after: { ...a, status: 'firing', ackBy: null, ackAt: null },
      event: { type: 'unacked', actor, detail: { ackBy: a.ackBy } },
    }
  })

/** Resolves an open alert by hand. A rule whose condition still holds fires it again at its next evaluation. */
export const resolveAlert = (deps: LifecycleDeps, id: string, by: ByPerson, at = Date.now(), reason = 'manual') =>
  act(deps, id, at, by, 'alert.resolved', (a) => {
    const { actor } = by
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
  by: ByPerson,
  at = Date.now(),
  detail: Record<string, unknown> = {},
) =>
  act(deps, id, at, by, silenced ? 'alert.silenced' : 'alert.unsilenced', (a) => {
    const { actor } = by
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
