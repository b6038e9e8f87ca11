import type { Context } from 'hono'
import { getCookie } from 'hono/cookie'
import type { AppEnv, Deps, Principal } from '../context.ts'
import { AppError, unauthorized } from '../lib/errors.ts'
// The platform's request layer uses the auth and audit modules' lowest files directly (keys,
// sessions, the audit writer): their index.ts also exports pages that import this middleware.
import { KEY_PREFIX, type KeyCheck, type KeyStore } from '../modules/auth/keys.ts'
import { resolveSession, SESSION_COOKIE, setSessionCookie } from '../modules/auth/sessions.ts'
import { hours } from '../lib/time.ts'

const BEARER = /^Bearer\s+(.+)$/i
const BASIC = /^Basic\s+([A-Za-z0-9+/=]{1,2000})$/i

function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined) {
  if (apiKeyHeader) return apiKeyHeader.trim()
  if (!authorization) return undefined
  if (authorization.startsWith('Bearer ')) return authorization.slice(7).trim() // the usual spelling, without a regex
  return BEARER.exec(authorization)?.[1]?.trim()
}

/**
 * The password of `Authorization: Basic …` as the API key (any user name): tools whose HTTP
 * settings offer basic auth (amtool's and Grafana's data sources) send the key that way. A
 * password that is not a valid key is refused like a bad Bearer key (401).
 */
function basicPassword(authorization: string | undefined) {
  const m = authorization ? BASIC.exec(authorization) : null
  if (!m) return undefined
  let decoded: string
  try {
    decoded = atob(m[1]!)
  } catch {
    return undefined
  }
  const password = decoded.slice(decoded.indexOf(':') + 1).trim()
  return decoded.includes(':') && password ? password : undefined
}

/**
 * The receiver routes for monitoring tools, the ONLY routes where an API key may also come as
 * `?key=<api key>` in the URL, for tools that cannot set a header (Uptime Kuma's webhook, for one).
 * A key in a URL can land in the logs of proxies and load balancers on the way (Homeostat's own
 * request log records the path without the query string): prefer `Authorization: Bearer` where the
 * tool can send it, and give such a tool an ingest-scoped key, which can do nothing but report.
 * A header, when present, wins over the query. Only their POST: `GET /api/v2/alerts` (the
 * Alertmanager API's read, for amtool and karma, which set headers) never takes a key from the URL.
 */
export const QUERY_KEY_PATHS = /^\/api\/(v1\/hooks\/(alertmanager|grafana|uptime-kuma)|v2\/alerts)$/

/**
 * The routes where the key may also come as the password of basic auth (`Authorization: Basic
 * base64(any-user:key)`): the Prometheus query API (Grafana's Prometheus data source, promtool) and
 * the Alertmanager v2 API (amtool, karma, Grafana's Alertmanager data source), whose tools offer basic
 * auth as a plain setting. Only these: a browser replays cached basic credentials on its own, so no
 * dashboard route or other API accepts them; of these, only the silence writes change state, and
 * they take JSON bodies or DELETE, which a cross-site form cannot send.
 */
export const BASIC_KEY_PATHS =
  /^\/api\/(v1\/(query|query_range|labels|series|metadata|status\/buildinfo|label\/[^/]+\/values)|v2\/(alerts|alerts\/groups|silences|silence\/[^/]+|status|receivers))$/

const keyMessages = {
  invalid: 'API key not recognised',
  revoked: 'API key has been revoked',
  expired: 'API key has expired',
}
function setKey(c: Context<AppEnv>, result: KeyCheck) {
  if (result.ok) {
    const k = result.key
    c.set('principal', {
      kind: 'key',
      id: k.id,
      name: k.prefix,
      role: k.role,
      scopes: k.scopes,
      ...(k.source ? { source: k.source } : {}),
    } satisfies Principal)
  } else {
    c.set('authError', new AppError(401, `key_${result.reason}`, keyMessages[result.reason]))
  }
}

/**
 * Works out who is calling, from an API key (Authorization: Bearer or X-API-Key; `?key=` on the
 * receiver routes only) or the session cookie. It refuses nothing itself: the route's `access`
 * decides, so public routes stay public. A cached API key resolves without a promise.
 */
export const authenticator = (deps: Pick<Deps, 'db' | 'config'>, keys: KeyStore) =>
  function authenticate(c: Context<AppEnv>, now: number): void | Promise<void> {
    const key =
      presentedKey(c.req.header('authorization'), c.req.header('x-api-key')) ??
      (c.req.method === 'POST' && QUERY_KEY_PATHS.test(c.req.path)
        ? c.req.query('key')?.trim() || undefined
        : undefined) ??
      (BASIC_KEY_PATHS.test(c.req.path) ? basicPassword(c.req.header('authorization')) : undefined)
    if (key) {
      const result = key.startsWith(KEY_PREFIX) ? keys.check(key, now) : ({ ok: false, reason: 'invalid' } as const)
      return result instanceof Promise ? result.then((r) => setKey(c, r)) : setKey(c, result)
    }
    if (c.req.header('cookie')) return fromSession(c, deps, now)
  }

async function fromSession(c: Context<AppEnv>, deps: Pick<Deps, 'db' | 'config'>, now: number) {
  const token = getCookie(c, SESSION_COOKIE)
  if (token) {
    const life = { ttlMs: hours(deps.config.SESSION_TTL_HOURS), maxMs: hours(deps.config.SESSION_MAX_HOURS) }
    const found = await resolveSession(deps.db, token, life, now)
    if (found.status === 'ok') {
      const { user, session } = found
      // The browser must keep the cookie as long as the extended session lives.
      if (found.extended) setSessionCookie(c, deps.config, token, session.expiresAt)
      c.set('principal', {
        kind: 'session',
        id: user.id,
        name: user.email,
        role: user.role,
        scopes: [],
        userId: user.id,
        sessionId: session.id,
        csrfToken: session.csrfToken,
        mustEnrol2fa: deps.config.REQUIRE_ADMIN_2FA && user.role === 'admin' && !user.totpEnabledAt,
        ...(user.theme ? { theme: user.theme } : {}),
      })
    } else {
      c.set('authError', new AppError(401, 'session_expired', 'Your session has expired; sign in again'))
    }
  }
}

/** The caller, or the reason there is none (bad key, expired session, no credentials). */
export function requirePrincipal(c: Context<AppEnv>): Principal {
  const p = c.get('principal')
  if (!p) throw c.get('authError') ?? unauthorized()
  return p
}
