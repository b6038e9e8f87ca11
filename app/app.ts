import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { createMiddleware } from 'hono/factory'
import { routePath } from 'hono/route'
import { secureHeaders } from 'hono/secure-headers'
import type { AppEnv, Deps, ModuleDeps } from './context.ts'
import { access, enforceAccess } from './middleware/access.ts'
import { authenticate } from './middleware/auth.ts'
import { csrf } from './middleware/csrf.ts'
import { notFound, onError } from './middleware/errors.tsx'
import { createRateLimiter } from './middleware/rate-limit.ts'
import { requestContext } from './middleware/request-id.ts'
import { AppError } from './lib/errors.ts'
import { accessOf, routeTable } from './lib/route-meta.ts'
import { StaticFirstRouter } from './lib/router.ts'
import { serveStatic } from './lib/static.ts'
import { accountPages } from './modules/auth/account-pages.tsx'
import { adminPages } from './modules/auth/admin-pages.tsx'
import { createKeyStore } from './modules/auth/keys.ts'
import { signInPages } from './modules/auth/pages.tsx'
import { authRoutes } from './modules/auth/routes.ts'
import { auditPages } from './modules/audit/pages.tsx'
import { auditRoutes } from './modules/audit/routes.ts'
import { alertsRoutes } from './modules/alerts/routes.ts'
import { silencesRoutes } from './modules/alerts/silences-routes.ts'
import { receiverRoutes } from './modules/alerts/receivers/routes.ts'
import { alertPages } from './modules/alerts/pages.tsx'
import { componentPages } from './modules/components/pages.tsx'
import { componentsRoutes } from './modules/components/routes.ts'
import { metricsQueryRoutes } from './modules/metrics/query-routes.ts'
import { metricsPages } from './modules/metrics/pages.tsx'
import { metricsRoutes } from './modules/metrics/routes.ts'
import { notifyRoutes } from './modules/notify/routes.ts'
import { systemPages } from './modules/system/pages.tsx'
import { systemRoutes } from './modules/system/routes.ts'

const PROBES = new Set(['/health', '/ready'])

/** Composes middleware and mounts every module. No I/O happens here. */
export function createApp(deps: Deps) {
  const { config, log, telemetry } = deps
  const app = new Hono<AppEnv>({ router: new StaticFirstRouter() })
  const md: ModuleDeps = { ...deps, keys: createKeyStore(deps.db) }
  const routes = () => routeTable(app)
  const perIp = createRateLimiter({ perSecond: config.IP_RATE_LIMIT_PER_SECOND, burst: config.IP_RATE_LIMIT_BURST })

  app.use(requestContext(deps))
  app.use(
    createMiddleware<AppEnv>(async (c, next) => {
      const start = performance.now()
      await next()
      const seconds = (performance.now() - start) / 1000
      const route = c.req.matchedRoutes.some((r) => r.method !== 'ALL') ? routePath(c, -1) : 'unmatched'
      telemetry.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) })
      telemetry.httpDuration.observe({ method: c.req.method, route }, seconds)
      if (!PROBES.has(c.req.path)) log.info('request', { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(seconds * 1000), actor: c.get('principal')?.name })
    }),
  )
  // Pages get the full set (CSP and friends); JSON answers only what matters for them.
  const pageHeaders = secureHeaders({ contentSecurityPolicy: { defaultSrc: ["'self'"], scriptSrc: ["'self'", "'unsafe-eval'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } })
  const apiHeaders = secureHeaders({ crossOriginEmbedderPolicy: false, crossOriginOpenerPolicy: false, crossOriginResourcePolicy: false, originAgentCluster: false, xDnsPrefetchControl: false, xDownloadOptions: false, xPermittedCrossDomainPolicies: false, xXssProtection: false })
  app.use((c, next) => (c.req.path.startsWith('/api/') ? apiHeaders(c, next) : pageHeaders(c, next)))
  const limitBody = (limit: number) =>
    bodyLimit({
      maxSize: limit,
      onError: () => {
        throw new AppError(413, 'payload_too_large', `Request body over ${limit} bytes`, [{ field: '(body)', message: `at most ${limit} bytes` }])
      },
    })
  const bodyLimits = { api: limitBody(config.BODY_LIMIT_BYTES), ingest: limitBody(config.INGEST_BODY_LIMIT_BYTES) }
  app.use(async (c, next) => {
    if (!c.req.raw.body) return next() // built once above, and skipped when there is no body
    return (accessOf(c) === 'ingest' ? bodyLimits.ingest : bodyLimits.api)(c, next)
  })
  app.use(async (c, next) => {
    if (!PROBES.has(c.req.path) && !c.req.path.startsWith('/static/')) perIp(`ip:${c.get('ip')}`)
    return next()
  })
  app.use(authenticate(deps, md.keys))
  app.use(csrf(config.PUBLIC_URL))
  app.use(enforceAccess(deps))

  app.get('/static/*', access('public'), serveStatic('/static/'))
  app.route('/', systemRoutes(md, routes))
  app.route('/', authRoutes(md))
  app.route('/', auditRoutes(md))
  app.route('/', metricsRoutes(md))
  app.route('/', metricsQueryRoutes(md))
  app.route('/', componentsRoutes(md))
  app.route('/', alertsRoutes(md))
  app.route('/', notifyRoutes(md))
  app.route('/', silencesRoutes(md))
  app.route('/', receiverRoutes(md))
  app.route('/', signInPages(md))
  app.route('/', systemPages(md, routes))
  app.route('/', adminPages(md))
  app.route('/', accountPages(md))
  app.route('/', auditPages(md))
  app.route('/', metricsPages(md))
  app.route('/', componentPages(md))
  app.route('/', alertPages(md))

  const handleError = onError(deps)
  app.onError(handleError)
  app.notFound(notFound(app, handleError))
  return app
}

export type App = ReturnType<typeof createApp>
