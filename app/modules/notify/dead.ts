/**
 * Nothing is dropped silently: a notification that gives up (`dead`, after MAX_ATTEMPTS or when its
 * channel is gone, delivery.ts) raises an alert of its own, `homeostat_notification_failed`, one per
 * channel (or webhook subscription) and alert it was for. Its labels name the failed channel
 * (`channel`, `channel_id`) and the alert (`alert_id`, `alert`), and its notifications avoid that
 * channel (`routesFrom` in policies.ts leaves it out of every route, and falls back to the other
 * enabled channels when the policies chose only it): the alert reaches a person through another
 * channel when one exists, and stays on the alerts page either way.
 *
 * The notifier calls `onDead` (NotifierDeps); the composition root (app/services.ts) counts it in
 * `homeostat_notifications_dead_total` and raises the alert through the alerts service.
 *
 * It resolves the way Alertmanager users expect a condition to clear: when the same channel (or
 * subscription) next delivers a notification successfully (`onDelivered`), every open
 * `homeostat_notification_failed` naming it is resolved, by Homeostat, with a `resolved` notification
 * like any alert. The notification that died is not sent again (retry it from the alert's page).
 */
import { and, eq, gte, lt, ne, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { type Alert, alerts } from '../../../db/schema/alerts.ts'
import type { Channel, Notification } from '../../../db/schema/notify.ts'
import type { AlertReport, AlertsService } from '../alerts/index.ts'

/** The alert a dead notification raises; policies.ts routes its notifications away from the failed channel. */
export const NOTIFICATION_FAILED = 'homeostat_notification_failed'

/** Notifications sent together that gave up, as the notifier tells `onDead`. */
export type DeadNotifications = {
  rows: Notification[]
  /** The channel they went to (absent for a webhook subscription, or a channel deleted since). */
  channel?: Channel
  error: string
  at: number
}

/**
 * The reports of `homeostat_notification_failed` for dead notifications: one per alert they were
 * for. A dead notification of a `homeostat_notification_failed` alert raises nothing more (every
 * channel may be down: one failure alert per failure alert would never end); it is still counted
 * and logged, and the alert it was for is open on the alerts page.
 */
export function notificationFailedReports(
  d: DeadNotifications,
  fingerprint: AlertsService['labelsFingerprint'],
): AlertReport[] {
  const reports: AlertReport[] = []
  const seen = new Set<string>()
  for (const row of d.rows) {
    const alert = (row.payload as { alert?: Alert } | null)?.alert
    if (!row.alertId || seen.has(row.alertId) || alert?.labels?.alertname === NOTIFICATION_FAILED) continue
    seen.add(row.alertId)
    const channel = d.channel?.name ?? (row.subscriptionId ? `subscription ${row.subscriptionId}` : 'deleted channel')
    const labels: Record<string, string> = {
      alertname: NOTIFICATION_FAILED,
      channel,
      ...(row.channelId ? { channel_id: row.channelId } : {}),
      ...(row.subscriptionId ? { subscription_id: row.subscriptionId } : {}),
      alert_id: row.alertId,
      alert: alert?.title ?? row.alertId,
    }
    reports.push({
      fingerprint: fingerprint(labels, 'homeostat:'),
      source: 'homeostat',
      state: 'firing',
      severity: 'error',
      title: `A notification through ${channel} gave up`,
      labels,
      annotations: {
        summary: `The ${row.kind} notification of "${alert?.title ?? row.alertId}" through ${channel} gave up after ${row.attempts} attempts`,
        error: d.error,
      },
      actor: 'notifications',
      quietRepeat: true,
    })
  }
  return reports
}

/** Raises `homeostat_notification_failed` for dead notifications through the alerts service. */
export async function raiseNotificationFailed(
  alerts: Pick<AlertsService, 'reportMany' | 'labelsFingerprint'>,
  d: DeadNotifications,
) {
  const reports = notificationFailedReports(d, alerts.labelsFingerprint)
  if (reports.length) await alerts.reportMany(reports, d.at)
}

/** Where a notification was delivered, as the notifier tells `onDelivered`. */
export type Delivered = { channelId?: string; subscriptionId?: string; at: number }

/** Most failure alerts one delivery resolves at once; more wait for the channel's next delivery. */
const RESOLVE_BATCH = 100
/** The failure alerts' fingerprints start so (see `notificationFailedReports`): a range of the unique index. */
const FP_FROM = 'homeostat:'
const FP_TO = 'homeostat;' // the next character after ':'

/**
 * Resolves the open `homeostat_notification_failed` alerts of a channel or subscription that delivered
 * again. It runs after every successful delivery, so it reads only Homeostat's own alerts (a range of
 * the fingerprint index), never every open alert; the resolution goes through the alerts service.
 */
export async function resolveNotificationFailed(
  db: Db,
  alertsService: Pick<AlertsService, 'reportMany'>,
  d: Delivered,
) {
  const label = d.channelId ? '$.channel_id' : d.subscriptionId ? '$.subscription_id' : null
  if (!label) return
  const open = await db
    .select({
      fingerprint: alerts.fingerprint,
      severity: alerts.severity,
      title: alerts.title,
      labels: alerts.labels,
      annotations: alerts.annotations,
    })
    .from(alerts)
    .where(
      and(
        gte(alerts.fingerprint, FP_FROM),
        lt(alerts.fingerprint, FP_TO),
        ne(alerts.status, 'resolved'),
        eq(alerts.source, 'homeostat'),
        sql`json_extract(${alerts.labels}, '$.alertname') = ${NOTIFICATION_FAILED}`,
        sql`json_extract(${alerts.labels}, ${label}) = ${d.channelId ?? d.subscriptionId}`,
      ),
    )
    .limit(RESOLVE_BATCH)
  if (!open.length) return
  await alertsService.reportMany(
    open.map((a) => ({
      fingerprint: a.fingerprint,
      source: 'homeostat',
      state: 'resolved' as const,
      severity: a.severity,
      title: a.title,
      labels: a.labels,
      annotations: { ...a.annotations, resolution: 'the channel delivered a notification again' },
      actor: 'notifications',
    })),
    d.at,
  )
}
