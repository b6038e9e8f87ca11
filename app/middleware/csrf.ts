import type { Context } from 'hono'
import type { AppEnv } from '../context.ts'
import { AppError } from '../lib/errors.ts'
import { safeEqual } from '../lib/crypto.ts'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])
export const CSRF_HEADER = 'x-csrf-token'
export const CSRF_FIELD = '_csrf'

/**
 * Unsafe requests riding on a session cookie must carry the session's CSRF token (header, as htmx
 * sends it, or a form field). Any request whose Origin names another site is refused outright.
 */
export const csrfGuard = (publicUrl: string) =>
  function csrf(c: Context<AppEnv>): void | Promise<void> {
    if (SAFE.has(c.req.method)) return
    const origin = c.req.header('origin')
    const from = origin && origin !== 'null' ? safeHost(origin) : null
    if (from !== null && from !== new URL(c.req.url).host && from !== safeHost(publicUrl)) {
      throw new AppError(403, 'csrf_origin', 'Cross-site request refused')
    }
    const p = c.get('principal')
    if (p?.kind !== 'session' || !p.csrfToken) return
    const token = c.req.header(CSRF_HEADER)
    const type = c.req.header('content-type') ?? ''
    if (!token && (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data'))) {
      const expected = p.csrfToken
      return formToken(c).then((fromForm) => compare(fromForm, expected))
    }
    compare(token, p.csrfToken)
  }

/** The token from a form body (a form post without the header, as a plain HTML form sends it). */
async function formToken(c: Context<AppEnv>): Promise<string | undefined> {
  const form = await c.req.formData().catch(() => null)
  const value = form?.get(CSRF_FIELD)
  return typeof value === 'string' ? value : undefined
}

function compare(token: string | undefined, expected: string) {
  if (!token || !safeEqual(token, expected))
    throw new AppError(403, 'csrf_failed', 'Missing or wrong CSRF token; reload the page')
}

function safeHost(origin: string) {
  try {
    return new URL(origin).host
  } catch {
    return ''
  }
}
