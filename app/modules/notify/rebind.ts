/**
 * The upgrade at boot (app/secrets-upgrade.ts) for notify's sealed values: channel secrets and
 * webhook subscriptions' signing secrets sealed before binding are sealed again bound to their row.
 * Each write is conditional on the value read, so a change made meanwhile is never overwritten.
 */
import { and, eq, isNotNull } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { channels, webhookSubscriptions } from '../../../db/schema/notify.ts'
import type { Rebinder } from '../../lib/crypto.ts'
import { channelSecretsAad } from './channels.ts'
import { subscriptionSecretAad } from './subscriptions.ts'

export async function rebindNotifySecrets(db: Db, { rebind }: Rebinder): Promise<BatchItem<'sqlite'>[]> {
  const out: BatchItem<'sqlite'>[] = []
  const chans = await db
    .select({ id: channels.id, secrets: channels.secrets })
    .from(channels)
    .where(isNotNull(channels.secrets))
  for (const ch of chans) {
    const next = rebind(ch.secrets!, channelSecretsAad(ch.id))
    if (next)
      out.push(
        db
          .update(channels)
          .set({ secrets: next })
          .where(and(eq(channels.id, ch.id), eq(channels.secrets, ch.secrets!))),
      )
  }
  const subs = await db
    .select({ id: webhookSubscriptions.id, secret: webhookSubscriptions.secret })
    .from(webhookSubscriptions)
  for (const sub of subs) {
    const next = rebind(sub.secret, subscriptionSecretAad(sub.id))
    if (next)
      out.push(
        db
          .update(webhookSubscriptions)
          .set({ secret: next })
          .where(and(eq(webhookSubscriptions.id, sub.id), eq(webhookSubscriptions.secret, sub.secret))),
      )
  }
  return out
}
