import { and, eq, isNotNull, isNull, lt, or, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { users, type User } from '../../../db/schema/auth.ts'
import { type Rebinder, safeEqual, sha256, type Sealer } from '../../lib/crypto.ts'
import { AppError, conflict } from '../../lib/errors.ts'
import { randomToken } from '../../lib/ids.ts'

// Loaded on first use: most servers never see a two-factor sign-in, and it saves resident memory.
const otpauth = () => import('otpauth')

const totpFor = async (user: User, secret: string) => {
  const OTPAuth = await otpauth()
  return new OTPAuth.TOTP({
    issuer: 'Homeostat',
    label: user.email,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: OTPAuth.Secret.fromBase32(secret),
  })
}

/** The 30-second step the code belongs to (one step of clock drift either way), or null. */
async function matchingStep(user: User, secret: string, code: string, now: number): Promise<number | null> {
  const delta = (await totpFor(user, secret)).validate({ token: code, window: 1, timestamp: now })
  return delta === null ? null : Math.floor(now / 30_000) + delta
}

/** Where the sealed TOTP secret lives: it is bound to this (AAD), so it opens only in its own row. */
export const totpSecretAad = (userId: string) => `users:${userId}:totp_secret`

const openSecret = (sealer: Sealer, userId: string, sealed: string) => sealer.open(sealed, totpSecretAad(userId))

/** Starts enrolment: a new secret, stored sealed and not yet enabled. */
export async function beginEnrolment(db: Db, sealer: Sealer, user: User) {
  if (user.totpEnabledAt) throw conflict('Two-factor sign-in is already on')
  const secret = new (await otpauth()).Secret({ size: 20 }).base32
  await db
    .update(users)
    .set({ totpSecret: sealer.seal(secret, totpSecretAad(user.id)) })
    .where(eq(users.id, user.id))
  return { secret, uri: (await totpFor(user, secret)).toString() }
}

const newRecoveryCodes = () =>
  Array.from({ length: 10 }, () => randomToken(8).replace(/[-_]/g, 'x').slice(0, 10).toLowerCase())

/** Confirms enrolment with a first code; returns recovery codes, shown once. */
export async function confirmEnrolment(db: Db, sealer: Sealer, user: User, code: string, now = Date.now()) {
  if (user.totpEnabledAt) throw conflict('Two-factor sign-in is already on')
  if (!user.totpSecret) throw conflict('Start enrolment first')
  const step = await matchingStep(user, openSecret(sealer, user.id, user.totpSecret), code, now)
  if (step === null)
    throw new AppError(400, 'invalid_code', 'That code is not valid', [
      { field: 'code', message: 'does not match the authenticator' },
    ])
  const codes = newRecoveryCodes()
  await db
    .update(users)
    .set({ totpEnabledAt: now, totpLastStep: step, recoveryCodes: codes.map(sha256) })
    .where(eq(users.id, user.id))
  return codes
}

export async function disableTwoFactor(db: Db, userId: string) {
  await db.update(users).set({ totpSecret: null, totpEnabledAt: null, recoveryCodes: null }).where(eq(users.id, userId))
}

/** Checks a TOTP code or a recovery code (which is then used up). */
export async function verifySecondFactor(db: Db, sealer: Sealer, user: User, code: string, now = Date.now()) {
  const trimmed = code.replace(/\s+/g, '').toLowerCase()
  if (!user.totpSecret || !user.totpEnabledAt) return false
  if (/^\d{6}$/.test(trimmed)) {
    const secret = openSecret(sealer, user.id, user.totpSecret)
    const step = await matchingStep(user, secret, trimmed, now)
    if (step === null) return false
    // A code works once: taking its step fails if this or a later step was already used.
    const taken = await db
      .update(users)
      .set({ totpLastStep: step })
      .where(and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
      .returning({ id: users.id })
    return taken.length === 1
  }
  // Spent in one conditional statement: of two sign-ins racing with the same code, only the one
  // whose UPDATE removed it (one row affected) gets in. Codes are SHA-256 hex, compared in SQL.
  const hash = sha256(trimmed)
  const spent = await db
    .update(users)
    .set({
      recoveryCodes: sql`(select json_group_array(value) from json_each(${users.recoveryCodes}) where value <> ${hash})`,
    })
    .where(
      and(eq(users.id, user.id), sql`exists (select 1 from json_each(${users.recoveryCodes}) where value = ${hash})`),
    )
    .returning({ id: users.id })
  return spent.length === 1
}

/** A short-lived signed ticket that carries a password-verified user to the second step. */
export function issueTicket(sealer: Sealer, userId: string, now = Date.now(), ttlMs = 5 * 60_000) {
  const body = `${userId}.${now + ttlMs}`
  return `${body}.${sealer.sign(`2fa:${body}`)}`
}

export function readTicket(sealer: Sealer, ticket: string, now = Date.now()): string | null {
  const [userId, expires, sig] = ticket.split('.')
  if (!userId || !expires || !sig) return null
  if (!safeEqual(sig, sealer.sign(`2fa:${userId}.${expires}`))) return null
  return Number(expires) > now ? userId : null
}

/** The upgrade at boot (app/secrets-upgrade.ts): TOTP secrets sealed before binding, sealed again bound to their user. */
export async function rebindTotpSecrets(db: Db, { rebind }: Rebinder): Promise<BatchItem<'sqlite'>[]> {
  const rows = await db
    .select({ id: users.id, sealed: users.totpSecret })
    .from(users)
    .where(isNotNull(users.totpSecret))
  const out: BatchItem<'sqlite'>[] = []
  for (const r of rows) {
    const next = rebind(r.sealed!, totpSecretAad(r.id))
    if (next)
      out.push(
        db
          .update(users)
          .set({ totpSecret: next })
          .where(and(eq(users.id, r.id), eq(users.totpSecret, r.sealed!))),
      )
  }
  return out
}
