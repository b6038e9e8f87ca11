/**
 * The notification outbox's lifecycle hook: for a fired, resolved or acknowledged transition of
 * an alert that is not silenced, one `notifications` row per chosen channel (the matching
 * policies, or every enabled channel) and per matching webhook subscription, written in the same
 * batch as the state change. The `notifications` job sends them. The notifier (notifier.ts) builds
 * the hook with its routing cache and its eager send.
 */
import { and, desc, eq } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import type { Alert, Severity } from '../../../db/schema/alerts.ts'
import { notifications } from '../../../db/schema/notify.ts'
import { NO_STATEMENTS, type Transition, type TransitionHook } from '../alerts/index.ts'
import { groupKeyOf, routesFrom, type Route, type Routing } from './policies.ts'

export type NotifyKind = 'fired' | 'resolved' | 'acknowledged' | 'repeated' | 'escalated'
type NewRow = typeof notifications.$inferInsert

/** Which notification a transition asks for, if any. */
export function kindOf(t: Transition): NotifyKind | null {
  // A quiet repeat (most of an intake) records nothing: asked first, and nothing is made for it.
  if (!t.events.length) return null
  const has = (type: string) => t.events.some((e) => e.type === type)
  if (has('fired')) return 'fired'
  if (has('resolved'))
    return t.before && (t.before.status === 'firing' || t.before.status === 'acknowledged') ? 'resolved' : null
  if (has('acked')) return 'acknowledged'
  // A silence ended on a still-firing alert: it is notified now.
  if (has('unsilenced') && t.after.status === 'firing') return 'fired'
  return null
}

const rank: Record<Severity, number> = { info: 0, warning: 1, error: 2, critical: 3 }
export const atLeast = (s: Severity, min: Severity | null) => !min || rank[s] >= rank[min]

/** When a grouped notification goes out: with its group's pending batch, after groupInterval since the group's last send, or after groupWait for a new group. */
async function groupedAt(db: Db, groupKey: string, channelId: string, r: Route, at: number) {
  const recent = await db
    .select({
      status: notifications.status,
      nextAttemptAt: notifications.nextAttemptAt,
      sentAt: notifications.sentAt,
      kind: notifications.kind,
    })
    .from(notifications)
    .where(and(eq(notifications.groupKey, groupKey), eq(notifications.channelId, channelId)))
    .orderBy(desc(notifications.createdAt))
    .limit(50)
  const waiting = recent.find((n) => n.status === 'pending' && (n.kind === 'fired' || n.kind === 'repeated'))
  if (waiting) return Math.max(at, waiting.nextAttemptAt)
  const lastSent = recent.reduce((m, n) => Math.max(m, n.sentAt ?? 0), 0)
  if (lastSent && r.groupIntervalMs > 0 && at - lastSent < r.groupIntervalMs)
    return Math.max(at, lastSent + r.groupIntervalMs)
  return at + r.groupWaitMs
}

/** Outbox rows for an alert's notification of `kind` through its routes (and subscriptions). */
export async function outboxRows(
  db: Db,
  routing: Routing,
  alert: Alert,
  kind: NotifyKind,
  at: number,
  opts: { subscriptions?: boolean } = {},
): Promise<NewRow[]> {
  const rows: NewRow[] = []
  const seen = new Set<string>()
  for (const r of routesFrom(routing, alert.labels)) {
    if (kind === 'resolved' && !r.sendResolved) continue
    const groupKey = groupKeyOf(r, alert.labels)
    for (const channelId of r.channelIds) {
      if (seen.has(channelId)) continue
      seen.add(channelId)
      const nextAttemptAt =
        groupKey && (kind === 'fired' || kind === 'repeated') ? await groupedAt(db, groupKey, channelId, r, at) : at
      rows.push({
        alertId: alert.id,
        channelId,
        policyId: r.policyId,
        kind,
        groupKey,
        payload: { event: kind, alert },
        status: 'pending',
        nextAttemptAt,
        createdAt: at,
      })
    }
  }
  if (opts.subscriptions !== false && (kind === 'fired' || kind === 'resolved' || kind === 'acknowledged')) {
    for (const s of routing.subscriptions) {
      if (!s.events.includes(kind) || !atLeast(alert.severity, s.minSeverity ?? null)) continue
      rows.push({
        alertId: alert.id,
        subscriptionId: s.id,
        kind,
        payload: { event: kind, alert },
        status: 'pending',
        nextAttemptAt: at,
        createdAt: at,
      })
    }
  }
  return rows
}

export type OutboxDeps = {
  /** The current routing (cached by the notifier). */
  routing: () => Promise<Routing>
  /** Asks for a send soon: called when a row is due at once. */
  kick: () => void
}

/** The lifecycle hook that writes the outbox rows of a transition (`db` is the lifecycle's). */
export function createOutboxHook(deps: OutboxDeps): TransitionHook {
  return (db, t) => {
    const kind = kindOf(t)
    // Most transitions (repeats) notify nothing: answered without waiting.
    if (!kind || t.after.silenced) return NO_STATEMENTS
    return outboxStatements(deps, db, t, kind)
  }
}

async function outboxStatements(deps: OutboxDeps, db: Db, t: Transition, kind: NotifyKind) {
  const rows = await outboxRows(db, await deps.routing(), t.after, kind, t.at)
  if (rows.some((r) => r.nextAttemptAt <= t.at)) deps.kick()
  return rows.length ? ([db.insert(notifications).values(rows)] as BatchItem<'sqlite'>[]) : []
}
