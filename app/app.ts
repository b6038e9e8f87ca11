import { Hono } from 'hono'
import type { AppEnv, Deps, ModuleDeps } from './context.ts'
import { access } from './middleware/access.ts'
import { pipeline } from './middleware/pipeline.ts'
import { notFound, onError } from './middleware/errors.tsx'
import { routeTable } from './lib/route-meta.ts'
import { staticFirstRouter } from './lib/router.ts'
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
import { breakerRoutes } from './modules/healing/breaker-routes.ts'
import { modelRouteRoutes } from './modules/healing/model-route-routes.ts'
import { healingRoutes } from './modules/healing/routes.ts'
import { healingPages } from './modules/healing/pages.tsx'
import { systemPages } from './modules/system/pages.tsx'
import { systemRoutes } from './modules/system/routes.ts'

/** Composes middleware and mounts every module. No I/O happens here. */
export function createApp(deps: Deps) {
  const app = new Hono<AppEnv>({ router: staticFirstRouter() })
  const md: ModuleDeps = { ...deps, keys: createKeyStore(deps.db) }
  const routes = () => routeTable(app)

  const handleError = onError(deps)
  app.use(pipeline(deps, md.keys, handleError))

  app.get('/static/*', access('public'), serveStatic('/static/'))
  app.route('/', systemRoutes(md, routes))
  app.route('/', authRoutes(md))
  app.route('/', auditRoutes(md))
  app.route('/', metricsRoutes(md))
  app.route('/', metricsQueryRoutes(md))
  app.route('/', componentsRoutes(md))
  app.route('/', alertsRoutes(md))
  app.route('/', notifyRoutes(md))
  app.route('/', breakerRoutes(md))
  app.route('/', modelRouteRoutes(md))
  app.route('/', healingRoutes(md))
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
  app.route('/', healingPages(md))

  app.onError(handleError)
  app.notFound(notFound(app, handleError))
  return app
}

export type App = ReturnType<typeof createApp>
