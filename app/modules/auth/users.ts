import { and, asc, count, eq, ne } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { sessions, users, type Role, type User } from '../../../db/schema/auth.ts'
import { hashPassword } from '../../lib/crypto.ts'
import { conflict, notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'

export const publicUser = (u: User) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  twoFactor: u.totpEnabledAt !== null,
  theme: u.theme ?? 'system',
  locked: u.lockedUntil !== null && u.lockedUntil > Date.now(),
  lastLoginAt: u.lastLoginAt ? new Date(u.lastLoginAt).toISOString() : null,
  createdAt: new Date(u.createdAt).toISOString(),
})

export async function countUsers(db: Db) {
  const [row] = await db.select({ n: count() }).from(users)
  return row?.n ?? 0
}

export async function createUser(
  db: Db,
  input: { email: string; name?: string; role: Role; password: string; passwordCost?: number },
  now = Date.now(),
) {
  const email = input.email.toLowerCase()
  const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, email))
  if (existing) throw conflict(`A user with email ${email} already exists`)
  const passwordHash = await hashPassword(input.password, input.passwordCost)
  const [row] = await db
    .insert(users)
    .values({
      id: newId(now),
      email,
      name: input.name ?? '',
      role: input.role,
      passwordHash,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (!row) throw conflict(`A user with email ${email} already exists`)
  return row
}

export const listUsers = (db: Db) => db.select().from(users).orderBy(asc(users.email))

export async function getUser(db: Db, idOrEmail: string) {
  const [row] = await db
    .select()
    .from(users)
    .where(idOrEmail.includes('@') ? eq(users.email, idOrEmail.toLowerCase()) : eq(users.id, idOrEmail))
  if (!row) throw notFound('User')
  return row
}

async function otherAdmins(db: Db, userId: string) {
  const [row] = await db
    .select({ n: count() })
    .from(users)
    .where(and(eq(users.role, 'admin'), ne(users.id, userId)))
  return row?.n ?? 0
}

export async function updateUser(
  db: Db,
  id: string,
  patch: { name?: string; role?: Role; password?: string; unlock?: boolean; passwordCost?: number },
  now = Date.now(),
) {
  const user = await getUser(db, id)
  if (patch.role && patch.role !== 'admin' && user.role === 'admin' && (await otherAdmins(db, id)) === 0) {
    throw conflict('This is the last admin; make another admin first')
  }
  const set: Partial<User> = { updatedAt: now }
  if (patch.name !== undefined) set.name = patch.name
  if (patch.role) set.role = patch.role
  if (patch.password)
    Object.assign(set, {
      passwordHash: await hashPassword(patch.password, patch.passwordCost),
      failedLogins: 0,
      lockedUntil: null,
    })
  if (patch.unlock) Object.assign(set, { failedLogins: 0, lockedUntil: null })
  const update = db.update(users).set(set).where(eq(users.id, user.id)).returning()
  // A new password or another role ends the user's sessions, in the same transaction.
  const endSessions = patch.password || (patch.role && patch.role !== user.role)
  const [[row]] = endSessions
    ? await db.batch([update, db.delete(sessions).where(eq(sessions.userId, user.id))])
    : [await update]
  return row!
}

export async function deleteUser(db: Db, id: string) {
  const user = await getUser(db, id)
  if (user.role === 'admin' && (await otherAdmins(db, id)) === 0)
    throw conflict('This is the last admin; it cannot be deleted')
  await db.delete(users).where(eq(users.id, user.id))
  return user
}
