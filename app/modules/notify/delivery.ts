/**
 * Sends the outbox: each tick of the `notifications` job claims due rows (status `sending`, with
 * a lease), sends them (rows of one group and channel together), and marks them `sent` with the
 * response, or `failed` with the next attempt after an exponential backoff, or `dead` after
 * MAX_ATTEMPTS. Rows left in `sending` past their lease (a crash) are claimed again. The same
 * tick escalates unacknowledged critical alerts and re-notifies still-firing ones.
 */
import { and, asc, eq, gte, inArray, isNotNull, lte, or, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { alertEvents, alerts, type Alert, storedAlert } from '../../../db/schema/alerts.ts'
import {
  channels,
  notifications,
  webhookSubscriptions,
  type Channel,
  type Notification,
} from '../../../db/schema/notify.ts'
import type { Sealer } from '../../lib/crypto.ts'
import type { Logger } from '../../lib/logger.ts'
import type { DeadNotifications, Delivered } from './dead.ts'
import type { OutboundPolicy } from '../../lib/outbound.ts'
import { outboxRows } from './outbox.ts'
import { subscriptionSecretAad } from './subscriptions.ts'
import { DEFAULT_REPEAT_MS, routesFrom, type Routing } from './policies.ts'
import {
  alertSnapshot,
  SendError,
  sendToChannel,
  sendToSubscription,
  type Message,
  type SendResult,
} from './senders.ts'

export type DeliveryDeps = {
  db: Db
  sealer: Sealer
  outbound: OutboundPolicy
  publicUrl: string
  /** The current routing (the notifier's cache), for escalations and repeats. */
  routing: () => Promise<Routing>
  log?: Logger
  timeoutMs?: number
  /** Notifications that gave up, once recorded `dead` (see dead.ts): counted and raised as an alert. */
  onDead?: (dead: DeadNotifications) => Promise<void> | void
  /** A channel or subscription delivered: the failure alerts naming it are resolved (see dead.ts). */
  onDelivered?: (delivered: Delivered) => Promise<void> | void
  /** How long a claimed row is held before it may be claimed again (LEASE_MS unless configured). */
  leaseMs?: number
}

export const BACKOFF_MS = [5_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000]
export const MAX_ATTEMPTS = 12
/** The default lease (`NOTIFICATION_LEASE_SECONDS`): a claimed row is held this long before it may be claimed again. */
export const LEASE_MS = 60_000
const BATCH = 100

/** The wait before attempt n + 1, after n failed attempts (n ≥ 1): 5 s, 15 s, 30 s, 1 m, … 1 h. */
export const backoff = (attempts: number) => BACKOFF_MS[Math.min(attempts - 1, BACKOFF_MS.length - 1)]!

/** Claims due rows: pending or failed ones whose time has come, and `sending` ones past their lease. */
async function claim(db: Db, now: number, leaseMs: number) {
  const due = db
    .select({ id: notifications.id })
    .from(notifications)
    .where(and(inArray(notifications.status, ['pending', 'failed', 'sending']), lte(notifications.nextAttemptAt, now)))
    .orderBy(asc(notifications.nextAttemptAt))
    .limit(BATCH)
  return db
    .update(notifications)
    .set({ status: 'sending', attempts: sql`${notifications.attempts} + 1`, nextAttemptAt: now + leaseMs })
    .where(
      and(
        inArray(notifications.id, due),
        inArray(notifications.status, ['pending', 'failed', 'sending']),
        lte(notifications.nextAttemptAt, now),
      ),
    )
    .returning()
}

type Target = { channel?: Channel; subscription?: typeof webhookSubscriptions.$inferSelect }
type Outcome = { ok: true; result: SendResult } | { ok: false; error: string; response?: string; gone?: boolean }

async function sendOne(deps: DeliveryDeps, target: Target, m: Message): Promise<Outcome> {
  try {
    if (target.channel) return { ok: true, result: await sendToChannel(deps, target.channel, m, deps.timeoutMs) }
    if (target.subscription)
      return {
        ok: true,
        result: await sendToSubscription(
          deps.outbound,
          deps.sealer.open(target.subscription.secret, subscriptionSecretAad(target.subscription.id)),
          target.subscription.url,
          m,
          deps.timeoutMs,
        ),
      }
    return { ok: false, error: 'channel or subscription no longer exists', gone: true }
  } catch (error) {
    return {
      ok: false,
      error: error instanceof SendError ? error.message : `send failed: ${(error as Error)?.message ?? String(error)}`,
      response: (error as SendError)?.response,
    }
  }
}

/** Writes the outcome of a send for its rows, with a `notified` event per alert. */
function record(db: Db, rows: Notification[], target: Target, o: Outcome, now: number): BatchItem<'sqlite'>[] {
  const ids = rows.map((r) => r.id)
  const attempts = Math.max(...rows.map((r) => r.attempts))
  const dead = !o.ok && (attempts >= MAX_ATTEMPTS || !!o.gone)
  const update = o.ok
    ? db
        .update(notifications)
        // Only the status is kept: viewers read notifications (the alert page), and what the far
        // end answered is for operators only (they read it from a channel test).
        .set({ status: 'sent', sentAt: now, response: String(o.result.code), lastError: null })
        .where(inArray(notifications.id, ids))
    : db
        .update(notifications)
        .set({
          status: dead ? 'dead' : 'failed',
          lastError: o.error,
          response: null,
          nextAttemptAt: dead ? now : now + backoff(attempts),
        })
        .where(inArray(notifications.id, ids))
  const who = target.channel
    ? { channelId: target.channel.id, channel: target.channel.name, type: target.channel.type }
    : { subscriptionId: target.subscription?.id ?? rows[0]!.subscriptionId }
  const events = rows
    .filter((r) => r.alertId)
    .map((r) => ({
      alertId: r.alertId!,
      ts: now,
      type: 'notified' as const,
      actor: 'notifications',
      detail: {
        ...who,
        notificationId: r.id,
        kind: r.kind,
        attempt: r.attempts,
        result: o.ok ? 'sent' : dead ? 'dead' : 'failed',
        ...(o.ok
          ? { code: o.result.code }
          : { error: o.error, ...(dead ? {} : { retryAt: new Date(now + backoff(attempts)).toISOString() }) }),
      },
    }))
  return [update, ...(events.length ? [db.insert(alertEvents).values(events)] : [])]
}

/** Sends every due row once. */
export async function sendDue(deps: DeliveryDeps, now: number) {
  const { db } = deps
  const claimed = await claim(db, now, deps.leaseMs ?? LEASE_MS)
  if (!claimed.length) return { sent: 0, failed: 0, dead: 0 }
  const chIds = [...new Set(claimed.map((r) => r.channelId).filter((x): x is string => !!x))]
  const subIds = [...new Set(claimed.map((r) => r.subscriptionId).filter((x): x is string => !!x))]
  const chs = new Map(
    (chIds.length ? await db.select().from(channels).where(inArray(channels.id, chIds)) : []).map((c) => [c.id, c]),
  )
  const subs = new Map(
    (subIds.length
      ? await db.select().from(webhookSubscriptions).where(inArray(webhookSubscriptions.id, subIds))
      : []
    ).map((s) => [s.id, s]),
  )
  // Rows of one group, channel and kind go out as one message.
  const batches = new Map<string, Notification[]>()
  for (const r of claimed) {
    const key = r.groupKey ? `${r.channelId ?? r.subscriptionId}|${r.groupKey}|${r.kind}` : `row|${r.id}`
    batches.set(key, [...(batches.get(key) ?? []), r])
  }
  const counts = { sent: 0, failed: 0, dead: 0 }
  await Promise.all(
    [...batches.values()].map(async (rows) => {
      const head = rows[0]!
      const target: Target = {
        channel: head.channelId ? chs.get(head.channelId) : undefined,
        subscription: head.subscriptionId ? subs.get(head.subscriptionId) : undefined,
      }
      const m: Message = {
        id: head.id,
        event: head.kind,
        groupKey: head.groupKey,
        // Registry events (`registry.*`) carry `data` rather than an alert.
        alerts: rows
          .filter((r) => (r.payload as { alert?: Alert }).alert)
          .map((r) => alertSnapshot((r.payload as { alert: Alert }).alert, deps.publicUrl)),
        ...((head.payload as { data?: Record<string, unknown> }).data
          ? { data: (head.payload as { data: Record<string, unknown> }).data }
          : {}),
        publicUrl: deps.publicUrl,
        at: now,
      }
      const o = await sendOne(deps, target, m)
      const dead = !o.ok && (Math.max(...rows.map((r) => r.attempts)) >= MAX_ATTEMPTS || !!o.gone)
      counts[o.ok ? 'sent' : dead ? 'dead' : 'failed'] += rows.length
      if (!o.ok)
        deps.log?.warn('notification failed', {
          notifications: rows.map((r) => r.id),
          target: target.channel?.name ?? head.subscriptionId,
          error: o.error,
          dead,
        })
      await db.batch(record(db, rows, target, o, now) as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
      // Nothing is dropped silently: a notification that gave up is counted and raises an alert of
      // its own. Its failure to do so is logged and does not stop the other sends of the tick.
      if (!o.ok && dead && deps.onDead)
        await Promise.resolve(deps.onDead({ rows, channel: target.channel, error: o.error, at: now })).catch((error) =>
          deps.log?.error('raising the failed notification alert failed', {
            notifications: rows.map((r) => r.id),
            error: String((error as Error)?.message ?? error),
          }),
        )
      // A channel that delivers again clears its failure alerts (dead.ts), as a condition clears in Alertmanager.
      if (o.ok && deps.onDelivered)
        await Promise.resolve(
          deps.onDelivered({
            channelId: head.channelId ?? undefined,
            subscriptionId: head.subscriptionId ?? undefined,
            at: now,
          }),
        ).catch((error) =>
          deps.log?.error('resolving the failed notification alerts failed', {
            target: target.channel?.name ?? head.subscriptionId,
            error: String((error as Error)?.message ?? error),
          }),
        )
    }),
  )
  return counts
}

/**
 * Escalation and repeat: a critical alert still firing (not acknowledged, not silenced) after a
 * policy's escalation step `afterMs` notifies that step's channels once (`escalated` event); a
 * still-firing alert whose last notification on a route is older than its repeatInterval is
 * notified again (`repeated`).
 */
export async function escalateAndRepeat(deps: Pick<DeliveryDeps, 'db' | 'routing'>, now: number) {
  const { db } = deps
  const none = { escalated: 0, repeated: 0 }
  const routing = await deps.routing()
  if (!routing.enabledChannels.size) return none
  // Only the alerts that may be due are read (a full read of every firing alert each tick grew
  // with the number firing): critical ones past the shortest escalation step with fewer
  // escalations than there are steps, and ones last notified longer ago than the shortest repeat.
  const steps = routing.policies.flatMap((p) =>
    p.escalations.filter((e) => e.channelIds.some((id) => routing.enabledChannels.has(id))),
  )
  const shortestRepeat = Math.min(DEFAULT_REPEAT_MS, ...routing.policies.map((p) => p.repeatIntervalMs))
  // The newest fired/repeated notification per alert and channel in the alert's current firing episode, when old enough to repeat.
  const last = await db
    .select({
      alertId: notifications.alertId,
      channelId: notifications.channelId,
      at: sql<number>`max(${notifications.createdAt})`,
    })
    .from(notifications)
    .innerJoin(alerts, eq(alerts.id, notifications.alertId))
    .where(
      and(
        eq(alerts.status, 'firing'),
        inArray(notifications.kind, ['fired', 'repeated']),
        isNotNull(notifications.channelId),
        gte(notifications.createdAt, alerts.startsAt),
      ),
    )
    .groupBy(notifications.alertId, notifications.channelId)
    .having(sql`max(${notifications.createdAt}) <= ${now - shortestRepeat}`)
  const lastBy = new Map(last.map((l) => [`${l.alertId}|${l.channelId}`, l.at]))
  const escalating = steps.length
    ? await db
        .select({ id: alerts.id })
        .from(alerts)
        .where(
          and(
            eq(alerts.status, 'firing'),
            eq(alerts.silenced, false),
            eq(alerts.severity, 'critical'),
            lte(alerts.startsAt, now - Math.min(...steps.map((e) => e.afterMs))),
            sql`(select count(*) from ${alertEvents} where ${alertEvents.alertId} = ${alerts.id} and ${alertEvents.type} = 'escalated' and ${alertEvents.ts} >= ${alerts.startsAt}) < ${steps.length}`,
          ),
        )
    : []
  const ids = [...new Set([...last.map((l) => l.alertId), ...escalating.map((a) => a.id)])]
  if (!ids.length) return none
  const firing = await db
    .select(storedAlert)
    .from(alerts)
    .where(
      and(
        sql`${alerts.id} in (select value from json_each(${JSON.stringify(ids)}))`,
        eq(alerts.status, 'firing'),
        eq(alerts.silenced, false),
        isNotNull(alerts.startsAt),
      ),
    )
  let escalated = 0
  let repeated = 0
  for (const a of firing) {
    const routes = routesFrom(routing, a.labels)
    const statements: BatchItem<'sqlite'>[] = []
    if (a.severity === 'critical' && routes.some((r) => r.escalations.some((e) => now - a.startsAt! >= e.afterMs))) {
      const done = new Set(
        (
          await db
            .select({ detail: alertEvents.detail })
            .from(alertEvents)
            .where(
              and(eq(alertEvents.alertId, a.id), eq(alertEvents.type, 'escalated'), gte(alertEvents.ts, a.startsAt!)),
            )
        ).map((e) => `${e.detail.policyId}|${e.detail.step}`),
      )
      for (const r of routes) {
        for (const [step, e] of r.escalations.entries()) {
          if (now - a.startsAt! < e.afterMs || done.has(`${r.policyId}|${step}`) || !e.channelIds.length) continue
          statements.push(
            db.insert(notifications).values(
              e.channelIds.map((channelId) => ({
                alertId: a.id,
                channelId,
                policyId: r.policyId,
                kind: 'escalated',
                payload: { event: 'escalated', alert: a, step },
                status: 'pending' as const,
                nextAttemptAt: now,
                createdAt: now,
              })),
            ),
          )
          statements.push(
            db.insert(alertEvents).values({
              alertId: a.id,
              ts: now,
              type: 'escalated',
              actor: 'notifications',
              detail: { policyId: r.policyId, step, afterMs: e.afterMs, channelIds: e.channelIds },
            }),
          )
          escalated++
        }
      }
    }
    // Repeat on each route's channels that were notified of this episode longer than repeatInterval ago.
    const dueOn = (policyId: string | null, channelId: string) => {
      const route = routes.find((x) => x.policyId === policyId)
      const at = lastBy.get(`${a.id}|${channelId}`)
      return !!route && at !== undefined && now - at >= route.repeatIntervalMs
    }
    if (routes.some((r) => r.channelIds.some((id) => dueOn(r.policyId, id)))) {
      const rows = (await outboxRows(db, routing, a, 'repeated', now, { subscriptions: false })).filter((r) =>
        dueOn(r.policyId ?? null, r.channelId!),
      )
      if (rows.length) {
        statements.push(db.insert(notifications).values(rows))
        repeated += rows.length
      }
    }
    if (statements.length) await db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
  }
  return { escalated, repeated }
}

/** One tick of the `notifications` job. */
export async function runNotifications(deps: DeliveryDeps, now: number) {
  const more = await escalateAndRepeat(deps, now)
  const sent = await sendDue(deps, now)
  return { ...sent, ...more }
}

/** Sends a notification again now, with a fresh set of attempts. */
export async function retryNotification(db: Db, id: number, now: number) {
  const [row] = await db
    .update(notifications)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: now })
    .where(and(eq(notifications.id, id), or(inArray(notifications.status, ['failed', 'dead', 'sent', 'pending']))))
    .returning()
  return row
}
