/**
 * Events that are not about an alert (a registry change: a prompt version added, a label moved, a
 * rollback): one outbox row per webhook subscription that asked for the event, sent, signed and
 * retried like alert notifications, with the facts as `data` in the webhook body.
 */
import type { Db } from '../../../db/client.ts'
import { notifications, type WebhookEventName } from '../../../db/schema/notify.ts'
import type { Routing } from './policies.ts'

export async function publishEvent(
  deps: { db: Db; routing: () => Promise<Routing>; kick: () => void },
  event: WebhookEventName,
  data: Record<string, unknown>,
  at: number,
) {
  const subs = (await deps.routing()).subscriptions.filter((s) => s.events.includes(event))
  if (!subs.length) return 0
  await deps.db.insert(notifications).values(
    subs.map((s) => ({
      subscriptionId: s.id,
      kind: event,
      payload: { event, data },
      status: 'pending' as const,
      nextAttemptAt: at,
      createdAt: at,
    })),
  )
  deps.kick()
  return subs.length
}
