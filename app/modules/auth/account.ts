import type { Db } from '../../../db/client.ts'
import type { User } from '../../../db/schema/auth.ts'
import { eq } from 'drizzle-orm'
import { type Theme, users } from '../../../db/schema/auth.ts'
import { AppError } from '../../lib/errors.ts'
import { confirmPassword, type LoginPolicy } from './login.ts'
import { disableTwoFactor } from './two-factor.ts'
import { updateUser } from './users.ts'

/**
 * Changes the signed-in user's own password; their sessions end (they sign in again). A wrong
 * current password counts toward the lock-out like a failed sign-in: a stolen session must not
 * become an unlimited password oracle.
 */
export async function changeOwnPassword(
  db: Db,
  policy: LoginPolicy,
  user: User,
  currentPassword: string,
  newPassword: string,
) {
  const error = await confirmPassword(db, policy, user, currentPassword, 'currentPassword')
  if (error) throw error
  await updateUser(db, user.id, { password: newPassword, passwordCost: policy.passwordCost })
}

/** Turns two-factor sign-in off after checking the password (counted like a sign-in); refused where admins must keep it. */
export async function turnOffTwoFactor(
  db: Db,
  policy: LoginPolicy,
  user: User,
  password: string,
  requiredForAdmins: boolean,
) {
  if (requiredForAdmins && user.role === 'admin')
    throw new AppError(409, 'conflict', 'Two-factor sign-in is required for admins here')
  const error = await confirmPassword(db, policy, user, password, 'password')
  if (error) throw error
  await disableTwoFactor(db, user.id)
}

/** The dashboard theme the user chose (`system`: follow the browser's prefers-color-scheme again). */
export async function setTheme(db: Db, userId: string, theme: Theme | 'system') {
  await db
    .update(users)
    .set({ theme: theme === 'system' ? null : theme, updatedAt: Date.now() })
    .where(eq(users.id, userId))
}
