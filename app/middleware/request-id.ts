import type { Context } from 'hono'
import type { AppEnv, Deps } from '../context.ts'
import { newId } from '../lib/ids.ts'

const VALID_ID = /^[\w.:-]{1,100}$/

/**
 * The client address behind `count` trusted proxies. Each proxy appends the address it was
 * reached from, so the entries on the left are whatever the client wrote: the only one a trusted
 * proxy vouches for is the one `count` from the right (the last one when one proxy). A shorter
 * header was written by trusted proxies alone, so its left-most entry is the client.
 */
export function forwardedClient(header: string | undefined, count: number): string | undefined {
  if (!header) return undefined
  const hops = header.split(',')
  return hops[Math.max(0, hops.length - count)]?.trim() || undefined
}

/** Accepts a caller's X-Request-Id when sane, else makes one; also settles the client ip. Returns the id. */
export function startRequest(c: Context<AppEnv>, deps: Pick<Deps, 'config' | 'remoteAddress'>): string {
  const given = c.req.header('x-request-id')
  const id = given && VALID_ID.test(given) ? given : newId()
  c.set('requestId', id)
  const forwarded = deps.config.TRUST_PROXY
    ? forwardedClient(c.req.header('x-forwarded-for'), deps.config.TRUSTED_PROXY_COUNT)
    : undefined
  c.set('ip', forwarded || deps.remoteAddress?.(c) || 'unknown')
  c.set('principal', null)
  c.set('authError', null)
  return id
}
