/**
 * The one-time upgrade that binds every sealed secret to its place (AAD, see app/lib/crypto.ts).
 * Databases written before binding hold values sealed without AAD (v2) or with the old key (v1);
 * from this version `open` reads only bound values, so at boot each such value is opened once and
 * sealed again bound to its row and field. All rewrites and the marker are one batch (one
 * transaction): it lands whole or not at all, and each write is conditional on the value read, so
 * two instances booting together, or a change made meanwhile, lose nothing. Once the marker is
 * written the upgrade is skipped; run again, it would find nothing to do.
 */
import type { Db } from '../db/client.ts'
import { settings } from '../db/schema/system.ts'
import { eq } from 'drizzle-orm'
import { createRebinder, type Sealer } from './lib/crypto.ts'
import type { Logger } from './lib/logger.ts'
import { rebindTotpSecrets } from './modules/auth/index.ts'
import { rebindPushTokens } from './modules/components/index.ts'
import { rebindHealingSecrets } from './modules/healing/index.ts'
import { rebindNotifySecrets } from './modules/notify/index.ts'

export const SECRETS_BOUND_KEY = 'secrets.bound'

export async function upgradeSealedSecrets(db: Db, sealer: Sealer, log: Logger, now = Date.now()) {
  const [done] = await db.select().from(settings).where(eq(settings.key, SECRETS_BOUND_KEY))
  if (done) return null
  const { counts, ...rebinder } = createRebinder(sealer)
  const statements = [
    ...(await rebindNotifySecrets(db, rebinder)),
    ...(await rebindHealingSecrets(db, rebinder)),
    ...(await rebindPushTokens(db, rebinder)),
    ...(await rebindTotpSecrets(db, rebinder)),
  ]
  const marker = db
    .insert(settings)
    .values({ key: SECRETS_BOUND_KEY, value: { at: new Date(now).toISOString(), ...counts }, updatedAt: now })
    .onConflictDoNothing()
  await db.batch([marker, ...statements])
  // Counts only: no value, sealed or not, is ever logged.
  if (counts.upgraded || counts.sealed) log.info('sealed secrets bound to their rows', counts)
  if (counts.unreadable)
    log.warn('sealed secrets that do not open with this SECRET_KEY were left as they are', {
      unreadable: counts.unreadable,
    })
  return counts
}
