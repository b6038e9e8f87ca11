/**
 * The upgrade at boot (app/secrets-upgrade.ts) for push tokens sealed before binding: sealed again
 * bound to their component, conditional on the value read.
 */
import { and, eq, isNotNull } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { components } from '../../../db/schema/components.ts'
import type { Rebinder } from '../../lib/crypto.ts'
import { pushTokenAad } from './service.ts'

export async function rebindPushTokens(db: Db, { rebind }: Rebinder): Promise<BatchItem<'sqlite'>[]> {
  const rows = await db
    .select({ id: components.id, sealed: components.pushTokenSealed })
    .from(components)
    .where(isNotNull(components.pushTokenSealed))
  const out: BatchItem<'sqlite'>[] = []
  for (const r of rows) {
    const next = rebind(r.sealed!, pushTokenAad(r.id))
    if (next)
      out.push(
        db
          .update(components)
          .set({ pushTokenSealed: next })
          .where(and(eq(components.id, r.id), eq(components.pushTokenSealed, r.sealed!))),
      )
  }
  return out
}
