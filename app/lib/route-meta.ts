import type { Context, Hono, MiddlewareHandler } from 'hono'
import type { GenericSchema } from 'valibot'
import type { Role } from '../../db/schema/auth.ts'

/**
 * Who may call a route: anyone (`public`); any valid key or session, scoped keys included
 * (`authenticated`: kept for routes about the caller itself, whoami and sign-out); a key whose scope
 * names the level, or an unscoped principal of the role it needs (`ingest` and `breakers`: operator,
 * `routes`: viewer); or at least this role. A scoped key reaches nothing else.
 */
export type Access = 'public' | 'authenticated' | KeyScope | Role

/** The scopes a key may be limited to; each is also the access level of the routes it opens. */
export const keyScopes = ['ingest', 'breakers', 'routes'] as const
export type KeyScope = (typeof keyScopes)[number]
export const isScope = (level: string): level is KeyScope => (keyScopes as readonly string[]).includes(level)

export type RouteMeta = {
  access?: Access
  summary?: string
  tags?: string[]
  /** Statuses other than the default 200 that the route answers on success, for the docs. */
  success?: number
  inputs?: { target: 'json' | 'form' | 'query' | 'param'; schema: GenericSchema }[]
  /** A public route that never reads who calls (see `anonymous`). */
  anonymous?: boolean
}

const META = Symbol.for('homeostat.route-meta')
type WithMeta = { [META]?: RouteMeta }

export function withMeta<T extends (...args: any[]) => unknown>(handler: T, meta: RouteMeta): T {
  return Object.assign(handler, { [META]: meta })
}

/** A pass-through middleware carrying the route's summary for the OpenAPI document. */
export const describe = (summary: string, tags: string[] = [], success?: number): MiddlewareHandler =>
  withMeta(async (_c, next) => next(), { summary, tags, success })

/**
 * Marks a public route that never reads who calls (the status pages): the pipeline skips
 * authentication for it, so a signed-in visitor's cookie costs no session lookup. Honoured only
 * beside `access('public')`; on any other route it is ignored and the caller is authenticated.
 */
export const anonymous = (): MiddlewareHandler => withMeta(async (_c, next) => next(), { anonymous: true })

export type RouteInfo = { method: string; path: string } & Required<Pick<RouteMeta, 'inputs'>> &
  Omit<RouteMeta, 'inputs'>

/** Every route of the app with the metadata its middleware carries: the route table. */
export function routeTable(app: Hono<any>): RouteInfo[] {
  const byRoute = new Map<string, RouteInfo>()
  for (const route of app.routes) {
    if (route.method === 'ALL') continue
    const key = `${route.method} ${route.path}`
    const info = byRoute.get(key) ?? { method: route.method, path: route.path, inputs: [] }
    const meta = (route.handler as WithMeta)[META]
    if (meta) {
      if (meta.access) info.access = meta.access
      if (meta.summary) info.summary = meta.summary
      if (meta.tags) info.tags = meta.tags
      if (meta.success) info.success = meta.success
      if (meta.inputs) info.inputs.push(...meta.inputs)
      if (meta.anonymous) info.anonymous = true
    }
    byRoute.set(key, info)
  }
  return [...byRoute.values()]
}

/** What the middleware needs to know about the route that answers a request, worked out once per route. */
export type RouteFacts = {
  /** A route (not only app-wide middleware) matched. */
  matched: boolean
  /** The access the route declares, if it declares one. */
  access: Access | undefined
  /** The route's path pattern, or `unmatched`: the `route` label of the request metrics. */
  path: string
  /** A public route that declared `anonymous()`: nobody is authenticated for it. */
  anonymous: boolean
}

const factsByRoute = new WeakMap<object, RouteFacts>()
const nothing: RouteFacts = Object.freeze({ matched: false, access: undefined, path: 'unmatched', anonymous: false })

/**
 * The facts of the route that will answer this request. The routes a request matched are fixed per
 * route, so they are read once and kept, keyed by the last matched route.
 */
export function routeFacts(c: Context): RouteFacts {
  const matched = c.req.matchedRoutes
  const last = matched[matched.length - 1]
  if (!last) return nothing
  let facts = factsByRoute.get(last)
  if (!facts) {
    let access: Access | undefined
    let anon = false
    for (const route of matched) {
      const meta = (route.handler as WithMeta)[META]
      access ??= meta?.access
      anon ||= meta?.anonymous === true
    }
    const isRoute = matched.some((r) => r.method !== 'ALL')
    const path = isRoute ? last.path : 'unmatched'
    facts = { matched: isRoute, access, path, anonymous: isRoute && anon && access === 'public' }
    factsByRoute.set(last, facts)
  }
  return facts
}
