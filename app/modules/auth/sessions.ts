import { eq } from 'drizzle-orm'
import type { Context } from 'hono'
import { setCookie } from 'hono/cookie'
import { readRows, type Db } from '../../../db/client.ts'
import { sessions, type Role, type Theme } from '../../../db/schema/auth.ts'
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

/** How long a session lives unused (`ttlMs`), and at most from sign-in however active (`maxMs`). */
export type SessionLife = { ttlMs: number; maxMs: number }

/** Creates a session; the cookie carries the token, the database only its hash. */
export async function createSession(
  db: Db,
  input: { userId: string; ip?: string; userAgent?: string; ttlMs: number; maxMs?: number },
  now = Date.now(),
) {
  const token = randomToken(32)
  const csrfToken = randomToken(24)
  const expiresAt = now + Math.min(input.ttlMs, input.maxMs ?? input.ttlMs)
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
 * extended by another full lifetime (`extended`: the caller must renew the cookie too), but never
 * past `maxMs` after sign-in: a stolen cookie kept busy still dies, and the user signs in again.
 */
// Every signed-in page and fragment resolves its session: one read with a kept statement of the
// columns the caller uses (db/client.ts `readRows`), not a Drizzle join of both whole rows built,
// prepared and mapped anew per request (issue 24: a dashboard fragment's first statement).
const SESSION_SQL = `select s.id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
    u.id, u.email, u.role, u.totp_enabled_at, u.theme
  from sessions s join users u on u.id = s.user_id where s.id = ?`

type SessionRow = [string, string, number, number, number, string, string, Role, number | null, Theme | null]

export async function resolveSession(db: Db, token: string, life: SessionLife, now = Date.now()) {
  const { ttlMs, maxMs } = life
  const [found] = await readRows(db, SESSION_SQL, [sha256(token)])
  if (!found) return { status: 'invalid' as const }
  const [id, csrfToken, createdAt, lastSeenAt, expires, userId, email, role, totpEnabledAt, theme] = found as SessionRow
  const session = { id, csrfToken, createdAt, lastSeenAt, expiresAt: expires }
  const user = { id: userId, email, role, totpEnabledAt, theme }
  const deadline = createdAt + maxMs
  if (expires <= now || deadline <= now) {
    await db.delete(sessions).where(eq(sessions.id, id))
    return { status: 'expired' as const }
  }
  const expiresAt = Math.min(now + ttlMs, deadline)
  if (expires - now < ttlMs / 2 && expiresAt > expires) {
    await db.update(sessions).set({ expiresAt, lastSeenAt: now }).where(eq(sessions.id, id))
    return { status: 'ok' as const, extended: true, user, session: { ...session, expiresAt, lastSeenAt: now } }
  }
  return { status: 'ok' as const, extended: false, user, session }
}

export const deleteSession = (db: Db, token: string) => db.delete(sessions).where(eq(sessions.id, sha256(token)))
