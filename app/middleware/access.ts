import type { Context } from 'hono'
import type { Role } from '../../db/schema/auth.ts'
import type { AppEnv, Deps, Principal } from '../context.ts'
import { AppError, forbidden } from '../lib/errors.ts'
import { isScope, withMeta, type Access, type KeyScope, type RouteFacts } from '../lib/route-meta.ts'
import { audit } from '../modules/audit/service.ts'
import { requirePrincipal } from './auth.ts'
import { createRateLimiter } from './rate-limit.ts'

const rank: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 }

/** Declares who may call a route. `enforceAccess` applies it; routes that declare nothing are admin-only. */
export const access = (level: Access) => withMeta(async (_c, next) => next(), { access: level })

// The role an unscoped principal needs for a scope's routes: pushing data and moving breakers change
// state (operator); reading a model route is a read (viewer).
const scopeRole: Record<KeyScope, Role> = { ingest: 'operator', breakers: 'operator', routes: 'viewer' }

export function allows(p: Principal, level: Access): boolean {
  if (level === 'public' || level === 'authenticated') return true
  // A scoped key sits in config files of other tools: it reaches the levels its scopes name and
  // nothing else, whatever its role (and `authenticated` above is only whoami and sign-out).
  if (p.scopes.length) return isScope(level) && p.scopes.includes(level)
  return rank[p.role] >= rank[isScope(level) ? scopeRole[level] : level]
}

/**
 * The source a report is made under, for a key bound to one source: its own (403 when the request
 * claims another), so its alerts' fingerprints are always that source's and never another's.
 */
export function claimSource(c: Context<AppEnv>, claimed: string | undefined): string | undefined {
  const bound = requirePrincipal(c).source
  if (bound && claimed !== undefined && claimed !== bound)
    throw forbidden(`This key is bound to source ${bound}; it cannot report as ${claimed}`)
  return bound ?? claimed
}

/** Whether the caller may change things: pages show their write controls to operators and admins. */
export const canWrite = (c: Context<AppEnv>) => allows(requirePrincipal(c), 'operator')
export const isAdmin = (c: Context<AppEnv>) => allows(requirePrincipal(c), 'admin')

// Routes an admin who must enrol in two-factor sign-in may still use.
const ENROLMENT_PATHS = /^\/(settings\/security(\/.*)?|api\/v1\/me(\/.*)?|logout|api\/v1\/whoami)$/

/**
 * RBAC and per-caller rate limits, from the access the matched route declares (admin when it
 * declares none). A request that matched no route falls through to the 404/405 handler.
 */
export const accessGuard = (deps: Pick<Deps, 'db' | 'config' | 'log'>) => {
  const api = createRateLimiter({ perSecond: deps.config.RATE_LIMIT_PER_SECOND, burst: deps.config.RATE_LIMIT_BURST })
  const ingest = createRateLimiter({
    perSecond: deps.config.INGEST_RATE_LIMIT_PER_SECOND,
    burst: deps.config.INGEST_RATE_LIMIT_BURST,
  })
  return function enforceAccess(c: Context<AppEnv>, route: RouteFacts, now: number): void | Promise<void> {
    if (!route.matched) return
    const level = route.access ?? 'admin'
    if (level === 'public') return
    const p = requirePrincipal(c)
    ;(level === 'ingest' || level === 'breakers' ? ingest : api)(p.id, now) // user and key ids are ULIDs: they never collide
    if (!allows(p, level)) return forbid(deps, c, p, level)
    if (p.mustEnrol2fa && !ENROLMENT_PATHS.test(c.req.path)) {
      throw new AppError(
        403,
        'two_factor_required',
        'Admins must turn on two-factor sign-in first (Settings → Security)',
      )
    }
  }
}

async function forbid(deps: Pick<Deps, 'db' | 'log'>, c: Context<AppEnv>, p: Principal, level: Access): Promise<never> {
  if (isScope(level)) {
    await refuse(deps, c, `needs a ${level} key or ${scopeRole[level]}`)
    throw forbidden(`This needs a key with the ${level} scope or the ${scopeRole[level]} role`)
  }
  await refuse(deps, c, `needs ${level}`)
  throw forbidden(`This needs the ${level} role${p.scopes.length ? ' and a key without scope limits' : ''}`)
}

async function refuse(deps: Pick<Deps, 'db' | 'log'>, c: Context<AppEnv>, why: string) {
  await audit(deps.db, c, { action: 'auth.forbidden', target: `${c.req.method} ${c.req.path}`, summary: why }).catch(
    (error) => deps.log.error('audit write failed', { error: String(error) }),
  )
}
