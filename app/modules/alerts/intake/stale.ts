/**
 * The intake's stale guard (`ReportsOptions.staleGuard`: a firing report that started before the
 * sender's own resolve is stale) and how a delivery that could not be applied answers. Used by the
 * group commit (lifecycle-batch.ts) only.
 */
import { and, desc, eq, inArray } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import type { LockedRead } from '../../../../db/locked-txn.ts'
import { alertEvents, alerts, type Alert, storedAlert } from '../../../../db/schema/alerts.ts'
import { AppError } from '../../../lib/errors.ts'
import { uniqueFingerprint, type AlertReport } from '../lifecycle/lifecycle.ts'
import { isStaleCache } from './alert-cache.ts'

/** Whether an alert's last `resolved` event was the sender's own (no `reason`), per alert id. */
export async function resolvedBySender(db: Db, ids: string[], read?: LockedRead): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>()
  if (!ids.length) return out
  const selection = { alertId: alertEvents.alertId, detail: alertEvents.detail }
  const query = db
    .select(selection)
    .from(alertEvents)
    .where(and(inArray(alertEvents.alertId, ids), eq(alertEvents.type, 'resolved')))
    .orderBy(desc(alertEvents.id))
  const rows = read ? read<{ alertId: string; detail: Record<string, unknown> }>(query, selection) : await query
  for (const r of rows) if (!out.has(r.alertId)) out.set(r.alertId, r.detail.reason === undefined)
  return out
}

export const mayBeStale = (r: AlertReport, a: Alert | null | undefined) =>
  !!a &&
  r.state !== 'resolved' &&
  r.startsAt !== undefined &&
  a.status === 'resolved' &&
  a.endsAt !== null &&
  r.startsAt < a.endsAt

/** The stale reports of a delivery against the alerts as `current` has them, if any (most deliveries have none: nothing is made). */
export function staleIn(
  reports: AlertReport[],
  current: (fp: string) => Alert | undefined,
  bySender: Map<string, boolean>,
): Set<AlertReport> | undefined {
  let stale: Set<AlertReport> | undefined
  for (const r of reports) {
    const a = current(r.fingerprint)
    if (mayBeStale(r, a) && bySender.get(a!.id) === true) (stale ??= new Set()).add(r)
  }
  return stale
}

/** The stale reports of a delivery against the stored alerts (see `ReportsOptions.staleGuard`). */
export async function staleOf(db: Db, reports: AlertReport[]): Promise<Set<AlertReport>> {
  const fps = [
    ...new Set(reports.filter((r) => r.state !== 'resolved' && r.startsAt !== undefined).map((r) => r.fingerprint)),
  ]
  if (!fps.length) return new Set()
  const rows = new Map(
    (await db.select(storedAlert).from(alerts).where(inArray(alerts.fingerprint, fps))).map((a) => [a.fingerprint, a]),
  )
  const bySender = await resolvedBySender(
    db,
    [...rows.values()]
      .filter((a) => reports.some((r) => r.fingerprint === a.fingerprint && mayBeStale(r, a)))
      .map((a) => a.id),
  )
  return staleIn(reports, (fp) => rows.get(fp), bySender) ?? new Set()
}

/**
 * A delivery that still could not be applied because its alerts kept changing under it (only
 * without a locked transaction, see `againFromFreshRead`, or a lock not had within the busy
 * timeout) answers 503 with Retry-After, not 500: Alertmanager and Prometheus retry a 5xx, and
 * nothing of it was written. Any other error is passed on as it is.
 */
export function retryLater(error: unknown) {
  if (!isStaleCache(error) && !uniqueFingerprint(error)) return error
  return Object.assign(
    new AppError(
      503,
      'alerts_busy',
      'The alerts of this delivery changed while it was applied; retry shortly',
      undefined,
      {
        'Retry-After': '1',
      },
    ),
    { cause: error },
  )
}
