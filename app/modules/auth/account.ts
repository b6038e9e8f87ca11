import type { Db } from '../../../db/client.ts'
import type { User } from '../../../db/schema/auth.ts'
import { verifyPassword } from '../../lib/crypto.ts'
import { AppError } from '../../lib/errors.ts'
import { disableTwoFactor } from './two-factor.ts'
import { updateUser } from './users.ts'

const wrong = (field: string, message: string) =>
  new AppError(400, 'invalid_input', message, [{ field, message: 'does not match' }])

/** Changes the signed-in user's own password; their sessions end (they sign in again). */
export async function changeOwnPassword(db: Db, user: User, currentPassword: string, newPassword: string) {
  if (!(await verifyPassword(currentPassword, user.passwordHash)))
    throw wrong('currentPassword', 'Current password is wrong')
  await updateUser(db, user.id, { password: newPassword })
}

/** Turns two-factor sign-in off after checking the password; refused where admins must keep it. */
export async function turnOffTwoFactor(db: Db, user: User, password: string, requiredForAdmins: boolean) {
  if (requiredForAdmins && user.role === 'admin')
    throw new AppError(409, 'conflict', 'Two-factor sign-in is required for admins here')
  if (!(await verifyPassword(password, user.passwordHash))) throw wrong('password', 'Password is wrong')
  await disableTwoFactor(db, user.id)
}
