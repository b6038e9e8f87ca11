/**
 * Events that are not alert transitions (the runs module's `run.escalated`, `run.decided`): one
 * outbox row per webhook subscription that asked for the event, sent, signed and retried like the
 * alert notifications (delivery.ts). The row carries `{event, data}`; the webhook body gets `data`.
 */
import type { Db } from '../../../db/client.ts'
import { notifications, type WebhookEventName } from '../../../db/schema/notify.ts'
import type { Routing } from './policies.ts'

export function eventRows(routing: Routing, event: WebhookEventName, data: Record<string, unknown>, at: number) {
  return routing.subscriptions
    .filter((s) => s.events.includes(event))
    .map((s) => ({
      subscriptionId: s.id,
      kind: event,
      payload: { event, data },
      status: 'pending' as const,
      nextAttemptAt: at,
      createdAt: at,
    }))
}

/** Writes the event's outbox rows; true when there were any (the caller kicks a send). */
export async function publishEvent(
  db: Db,
  routing: Routing,
  event: WebhookEventName,
  data: Record<string, unknown>,
  at: number,
) {
  const rows = eventRows(routing, event, data, at)
  if (rows.length) await db.insert(notifications).values(rows)
  return rows.length > 0
}
