import { createMiddleware } from 'hono/factory'
import type { AppEnv, Deps } from '../context.ts'
import { newId } from '../lib/ids.ts'

const VALID_ID = /^[\w.:-]{1,100}$/

/** Accepts a caller's X-Request-Id when sane, else makes one; also settles the client ip. */
export const requestContext = (deps: Pick<Deps, 'config' | 'remoteAddress'>) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const given = c.req.header('x-request-id')
    const id = given && VALID_ID.test(given) ? given : newId()
    c.set('requestId', id)
    const forwarded = deps.config.TRUST_PROXY ? c.req.header('x-forwarded-for')?.split(',')[0]?.trim() : undefined
    c.set('ip', forwarded || deps.remoteAddress?.(c) || 'unknown')
    c.set('principal', null)
    c.set('authError', null)
    await next()
    // Set in place, as secureHeaders does: c.header() on a finished response copies the whole Response.
    try {
      c.res.headers.set('X-Request-Id', id)
    } catch {
      c.header('X-Request-Id', id) // immutable headers (a proxied fetch response): copy after all
    }
  })
