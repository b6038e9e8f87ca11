import type { Context } from 'hono'
import type { AppEnv, Deps } from '../context.ts'
import { newId } from '../lib/ids.ts'

const VALID_ID = /^[\w.:-]{1,100}$/

/** Accepts a caller's X-Request-Id when sane, else makes one; also settles the client ip. Returns the id. */
export function startRequest(c: Context<AppEnv>, deps: Pick<Deps, 'config' | 'remoteAddress'>): string {
  const given = c.req.header('x-request-id')
  const id = given && VALID_ID.test(given) ? given : newId()
  c.set('requestId', id)
  const forwarded = deps.config.TRUST_PROXY ? c.req.header('x-forwarded-for')?.split(',')[0]?.trim() : undefined
  c.set('ip', forwarded || deps.remoteAddress?.(c) || 'unknown')
  c.set('principal', null)
  c.set('authError', null)
  return id
}
