import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { users, type User } from '../../../db/schema/auth.ts'
import { dummyPasswordHash, hashPassword, passwordNeedsRehash, verifyPassword } from '../../lib/crypto.ts'
import { AppError } from '../../lib/errors.ts'
import { minutes } from '../../lib/time.ts'

/** The lock-out limits shared by every check of a password or code, and the cost new hashes get. */
export type LoginPolicy = { maxFailures: number; lockoutMinutes: number; passwordCost: number }

export const loginPolicy = (config: {
  LOGIN_MAX_FAILURES: number
  LOGIN_LOCKOUT_MINUTES: number
  PASSWORD_HASH_COST: number
}): LoginPolicy => ({
  maxFailures: config.LOGIN_MAX_FAILURES,
  lockoutMinutes: config.LOGIN_LOCKOUT_MINUTES,
  passwordCost: config.PASSWORD_HASH_COST,
})

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
    // Verified against a hash of the current cost, so an unknown email takes as long as a known one.
    await verifyPassword(password, dummyPasswordHash(policy.passwordCost))
    return { ok: false as const, user: null, error: invalidCredentials() }
  }
  if (user.lockedUntil && user.lockedUntil > now) return { ok: false as const, user, error: lockedError(user, now) }
  if (!(await verifyPassword(password, user.passwordHash))) {
    const error = await recordFailure(db, policy, user, now)
    return { ok: false as const, user, error }
  }
  await upgradeHash(db, policy, user, password)
  return { ok: true as const, user }
}

/**
 * Once the password is known to be right, a hash made with older (cheaper) parameters is replaced
 * by one at today's cost. Conditional on the hash read, so a password changed meanwhile is kept.
 */
export async function upgradeHash(db: Db, policy: LoginPolicy, user: User, password: string) {
  if (!passwordNeedsRehash(user.passwordHash, policy.passwordCost)) return
  const passwordHash = await hashPassword(password, policy.passwordCost)
  await db
    .update(users)
    .set({ passwordHash })
    .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash)))
}

/**
 * Checks the password of a signed-in user before a sensitive change (new password, two-factor off).
 * It counts like a sign-in: a locked account is refused, a wrong password counts toward the lock.
 * Returns null when right, else the error (400 naming `field`, or 429 once locked).
 */
export async function confirmPassword(
  db: Db,
  policy: LoginPolicy,
  user: User,
  password: string,
  field: string,
  now = Date.now(),
): Promise<AppError | null> {
  const [fresh] = await db.select().from(users).where(eq(users.id, user.id))
  const current = fresh ?? user
  if (current.lockedUntil && current.lockedUntil > now) return lockedError(current, now)
  if (await verifyPassword(password, current.passwordHash)) return null
  const error = await recordFailure(db, policy, current, now)
  if (error.code === 'account_locked') return error
  return new AppError(400, 'invalid_input', `${field === 'password' ? 'Password' : 'Current password'} is wrong`, [
    { field, message: 'does not match' },
  ])
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
