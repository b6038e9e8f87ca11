/** Webhook subscriptions (the n8n Trigger node): a URL subscribed to alert events, signed deliveries. */
import { desc, eq } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { webhookSubscriptions, type WebhookEventName } from '../../../db/schema/notify.ts'
import { mask, type Sealer } from '../../lib/crypto.ts'
import { notFound } from '../../lib/errors.ts'
import { newId, randomToken } from '../../lib/ids.ts'
import { toIso } from '../../lib/time.ts'
import type { SubscriptionInput } from './schema.ts'

type Sub = typeof webhookSubscriptions.$inferSelect
export type WebhookEvent = WebhookEventName

/** Where a subscription's sealed signing secret lives (AAD): it opens in this row only. */
export const subscriptionSecretAad = (id: string) => `webhook_subscriptions:${id}:secret`

export async function createSubscription(
  deps: { db: Db; sealer: Sealer },
  input: SubscriptionInput,
  createdBy: string,
  now: number,
) {
  const secret = `whsec_${randomToken(32)}`
  const id = newId(now)
  const [row] = await deps.db
    .insert(webhookSubscriptions)
    .values({
      id,
      url: input.url,
      secret: deps.sealer.seal(secret, subscriptionSecretAad(id)),
      events: [...new Set(input.events)],
      minSeverity: input.minSeverity ?? null,
      createdBy,
      createdAt: now,
    })
    .returning()
  return { row: row!, secret }
}

export const listSubscriptions = (db: Db) =>
  db.select().from(webhookSubscriptions).orderBy(desc(webhookSubscriptions.createdAt))

export async function getSubscription(db: Db, id: string) {
  const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id))
  if (!row) throw notFound('Webhook subscription')
  return row
}

export const deleteSubscription = (db: Db, id: string) =>
  db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id))

/** The URL may carry a token (n8n webhook paths are secrets of sorts): shown masked past the host. */
function maskUrl(url: string) {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}/${mask(u.pathname.slice(1) + u.search)}`
  } catch {
    return mask(url)
  }
}

export const subscriptionJson = (s: Sub) => ({
  id: s.id,
  url: maskUrl(s.url),
  events: s.events,
  minSeverity: s.minSeverity,
  createdBy: s.createdBy,
  createdAt: toIso(s.createdAt),
})
