import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { users, type User } from '../../../db/schema/auth.ts'
import { verifyPassword } from '../../lib/crypto.ts'
import { AppError } from '../../lib/errors.ts'
import { minutes } from '../../lib/time.ts'

// Verified against when the email is unknown, so both paths take the time of one KDF.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

export type LoginPolicy = { maxFailures: number; lockoutMinutes: number }

export const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'Wrong email or password')

export function lockedError(user: User, now: number) {
  const seconds = Math.max(1, Math.ceil(((user.lockedUntil ?? now) - now) / 1000))
  return new AppError(
    429,
    'account_locked',
    `Too many failed sign-ins; try again in ${Math.ceil(seconds / 60)} min`,
    undefined,
    { 'Retry-After': String(seconds) },
  )
}

/** Checks email and password. Repeated failures lock the account for a while. */
export async function checkPassword(db: Db, policy: LoginPolicy, email: string, password: string, now = Date.now()) {
  const [user] = await db.select().from(users).where(eq(users.email, email.toLowerCase()))
  if (!user) {
    await verifyPassword(password, DUMMY_HASH)
    return { ok: false as const, user: null, error: invalidCredentials() }
  }
  if (user.lockedUntil && user.lockedUntil > now) return { ok: false as const, user, error: lockedError(user, now) }
  if (!(await verifyPassword(password, user.passwordHash))) {
    const error = await recordFailure(db, policy, user, now)
    return { ok: false as const, user, error }
  }
  return { ok: true as const, user }
}

/** Counts a failed password or code; at the limit the account locks. */
export async function recordFailure(db: Db, policy: LoginPolicy, user: User, now = Date.now()) {
  // A lock-out that has run out starts a fresh count, so one more typo does not lock again at once.
  const lapsed = sql`(${users.lockedUntil} is not null and ${users.lockedUntil} <= ${now})`
  const failures = sql`(case when ${lapsed} then 1 else ${users.failedLogins} + 1 end)`
  const [row] = await db
    .update(users)
    .set({
      failedLogins: failures,
      lockedUntil: sql`case when ${failures} >= ${policy.maxFailures} then ${now + minutes(policy.lockoutMinutes)} when ${lapsed} then null else ${users.lockedUntil} end`,
    })
    .where(eq(users.id, user.id))
    .returning()
  return row?.lockedUntil && row.lockedUntil > now ? lockedError(row, now) : invalidCredentials()
}

export async function recordSuccess(db: Db, userId: string, now = Date.now()) {
  await db.update(users).set({ failedLogins: 0, lockedUntil: null, lastLoginAt: now }).where(eq(users.id, userId))
}
