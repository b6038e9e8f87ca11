import { eq } from 'drizzle-orm'
import type { Context } from 'hono'
import { setCookie } from 'hono/cookie'
import type { Db } from '../../../db/client.ts'
import { sessions, users } from '../../../db/schema/auth.ts'
import { sha256 } from '../../lib/crypto.ts'
import { randomToken } from '../../lib/ids.ts'

export const SESSION_COOKIE = 'hs_session'

/** The session cookie: HttpOnly, SameSite=Lax, on /, Secure behind https, living as long as the session. */
export function setSessionCookie(
  c: Context,
  cfg: { PUBLIC_URL: string; TRUST_PROXY: boolean },
  token: string,
  expiresAt: number,
) {
  const secure =
    cfg.PUBLIC_URL.startsWith('https:') ||
    new URL(c.req.url).protocol === 'https:' ||
    (cfg.TRUST_PROXY && c.req.header('x-forwarded-proto') === 'https')
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Lax',
    secure,
    path: '/',
    expires: new Date(expiresAt),
  })
}

/** Creates a session; the cookie carries the token, the database only its hash. */
export async function createSession(
  db: Db,
  input: { userId: string; ip?: string; userAgent?: string; ttlMs: number },
  now = Date.now(),
) {
  const token = randomToken(32)
  const csrfToken = randomToken(24)
  const expiresAt = now + input.ttlMs
  await db.insert(sessions).values({
    id: sha256(token),
    userId: input.userId,
    csrfToken,
    ip: input.ip ?? null,
    userAgent: input.userAgent?.slice(0, 300) ?? null,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
  })
  return { token, csrfToken, expiresAt }
}

/**
 * Finds the session and its user. Sliding expiry: a session used after half its lifetime is
 * extended by another full lifetime (`extended`: the caller must renew the cookie too).
 */
export async function resolveSession(db: Db, token: string, ttlMs: number, now = Date.now()) {
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sha256(token)))
  if (!row) return { status: 'invalid' as const }
  if (row.session.expiresAt <= now) {
    await db.delete(sessions).where(eq(sessions.id, row.session.id))
    return { status: 'expired' as const }
  }
  if (row.session.expiresAt - now < ttlMs / 2) {
    await db
      .update(sessions)
      .set({ expiresAt: now + ttlMs, lastSeenAt: now })
      .where(eq(sessions.id, row.session.id))
    return {
      status: 'ok' as const,
      extended: true,
      user: row.user,
      session: { ...row.session, expiresAt: now + ttlMs, lastSeenAt: now },
    }
  }
  return { status: 'ok' as const, extended: false, ...row }
}

export const deleteSession = (db: Db, token: string) => db.delete(sessions).where(eq(sessions.id, sha256(token)))
