import { and, eq, gt } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { setupTokens } from '../../../db/schema/auth.ts'
import { sha256 } from '../../lib/crypto.ts'
import { AppError, conflict } from '../../lib/errors.ts'
import { randomToken } from '../../lib/ids.ts'
import { minutes } from '../../lib/time.ts'
import { countUsers, createUser } from './users.ts'

type FirstRun = { adminEmail?: string; adminPassword?: string; setupTtlMinutes: number; publicUrl: string }

/**
 * On a database with no users: create the admin from ADMIN_EMAIL/ADMIN_PASSWORD, or else issue a
 * one-time setup link (single use, expires). Returns what start-up should print.
 */
export async function ensureFirstAdmin(db: Db, cfg: FirstRun, now = Date.now()) {
  if ((await countUsers(db)) > 0) return { kind: 'ready' as const }
  if (cfg.adminEmail && cfg.adminPassword) {
    const user = await createUser(
      db,
      { email: cfg.adminEmail, password: cfg.adminPassword, role: 'admin', name: 'Admin' },
      now,
    )
    return { kind: 'admin_created' as const, email: user.email }
  }
  const token = randomToken(24)
  await db.delete(setupTokens) // only the newest link works
  await db
    .insert(setupTokens)
    .values({ tokenHash: sha256(token), createdAt: now, expiresAt: now + minutes(cfg.setupTtlMinutes) })
  return { kind: 'setup_link' as const, url: `${cfg.publicUrl}/setup?token=${token}` }
}

export async function setupTokenValid(db: Db, token: string, now = Date.now()) {
  const [row] = await db
    .select()
    .from(setupTokens)
    .where(and(eq(setupTokens.tokenHash, sha256(token)), gt(setupTokens.expiresAt, now)))
  return Boolean(row)
}

/** Uses the setup link once to create the first admin. */
export async function completeSetup(
  db: Db,
  token: string,
  input: { email: string; name?: string; password: string; passwordCost?: number },
  now = Date.now(),
) {
  if ((await countUsers(db)) > 0) throw conflict('Homeostat is already set up; sign in instead')
  const taken = await db
    .delete(setupTokens)
    .where(and(eq(setupTokens.tokenHash, sha256(token)), gt(setupTokens.expiresAt, now)))
    .returning()
  if (!taken.length)
    throw new AppError(
      410,
      'setup_link_invalid',
      'This setup link has expired or was already used; restart the server for a new one',
    )
  return createUser(db, { ...input, role: 'admin' }, now)
}
