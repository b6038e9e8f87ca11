import { Hono } from 'hono'
import type { AppEnv } from './context.ts'
import type { Services } from './services.ts'
import { frontTiles } from './front-tiles.ts'
import type { FrontTile } from './lib/tiles.tsx'
import { access } from './middleware/access.ts'
import { pipeline } from './middleware/pipeline.ts'
import { notFound, onError } from './middleware/errors.tsx'
import { routeTable } from './lib/route-meta.ts'
import { staticFirstRouter } from './lib/router.ts'
import { serveStatic } from './lib/static.ts'
import { accountPages, adminPages, signInPages, authRoutes } from './modules/auth/index.ts'
import { auditPages, auditRoutes } from './modules/audit/index.ts'
import { alertsRoutes, silencesRoutes, receiverRoutes, alertPages } from './modules/alerts/index.ts'
import { alertmanagerApiRoutes } from './modules/alertmanager/index.ts'
import { componentPages, componentsRoutes } from './modules/components/index.ts'
import { frontPages } from './modules/front/index.ts'
import {
  metricKindsRoutes,
  metricsPages,
  metricsQueryRoutes,
  metricsRoutes,
  otlpMetricsRoutes,
} from './modules/metrics/index.ts'
import { promqlRoutes } from './modules/promql/index.ts'
import { notifyPages, notifyRoutes } from './modules/notify/index.ts'
import { breakerRoutes, healingPages, healingRoutes, modelRouteRoutes } from './modules/healing/index.ts'
import { systemPages, systemRoutes } from './modules/system/index.ts'
import { backupsPages, backupsRoutes } from './modules/backups/index.ts'
import { n8nRoutes, workflowHealthPages, workflowHealthRoutes } from './modules/n8n/index.ts'
import {
  comparePages,
  compareRoutes,
  hostRoutes,
  modelPages,
  modelRoutes,
  promptPages,
  promptRoutes,
} from './modules/registry/index.ts'
import { liveRoutes } from './modules/live/index.ts'
import { searchPages, searchRoutes } from './modules/search/index.ts'
import { otlpRoutes, runPolicyRoutes, runReportRoutes, runsPages, runsRoutes } from './modules/runs/index.ts'
import { statusPagesPages, statusPagesRoutes, statusPublicRoutes } from './modules/status-pages/index.ts'

/** Composes middleware and mounts every module, each given the services it uses. No I/O happens here. */
export function createApp(md: Services, tiles: FrontTile[] = frontTiles(md)) {
  const deps = md
  const app = new Hono<AppEnv>({ router: staticFirstRouter() })
  const routes = () => routeTable(app)

  const handleError = onError(deps)
  app.use(pipeline(deps, md.keys, handleError))

  app.get('/static/*', access('public'), serveStatic('/static/'))
  app.route('/', systemRoutes(md, routes))
  app.route('/', authRoutes(md))
  app.route('/', auditRoutes(md))
  app.route('/', metricsRoutes(md))
  app.route('/', metricsQueryRoutes(md))
  app.route('/', metricKindsRoutes(md))
  app.route('/', promqlRoutes(md))
  app.route('/', componentsRoutes(md))
  app.route('/', alertsRoutes(md))
  app.route('/', notifyRoutes(md))
  app.route('/', breakerRoutes(md))
  app.route('/', modelRouteRoutes(md))
  app.route('/', healingRoutes(md))
  app.route('/', silencesRoutes(md))
  app.route('/', receiverRoutes(md))
  app.route('/', alertmanagerApiRoutes(md))
  app.route('/', backupsRoutes(md))
  app.route('/', n8nRoutes(md))
  app.route('/', workflowHealthRoutes(md))
  app.route('/', modelRoutes(md))
  app.route('/', hostRoutes(md))
  app.route('/', compareRoutes(md))
  app.route('/', promptRoutes(md))
  app.route('/', runsRoutes(md))
  app.route('/', runPolicyRoutes(md))
  app.route('/', runReportRoutes(md))
  app.route('/', otlpRoutes(md))
  app.route('/', otlpMetricsRoutes(md))
  app.route('/', liveRoutes(md))
  app.route('/', searchRoutes(md))
  app.route('/', searchPages(md))
  app.route('/', statusPagesRoutes(md))
  app.route('/', statusPublicRoutes(md))
  app.route('/', signInPages(md))
  app.route('/', systemPages(md, routes))
  // The front page's tiles: each module exports its own, listed in app/front-tiles.ts.
  app.route('/', frontPages(md, tiles))
  app.route('/', adminPages(md))
  app.route('/', accountPages(md))
  app.route('/', auditPages(md))
  app.route('/', metricsPages(md))
  app.route('/', componentPages(md))
  app.route('/', alertPages(md))
  app.route('/', notifyPages(md))
  app.route('/', healingPages(md))
  app.route('/', backupsPages(md))
  app.route('/', workflowHealthPages(md))
  app.route('/', modelPages(md))
  app.route('/', comparePages(md))
  app.route('/', promptPages(md))
  app.route('/', runsPages(md))
  app.route('/', statusPagesPages(md))

  app.onError(handleError)
  app.notFound(notFound(app, handleError))
  return app
}

export type App = ReturnType<typeof createApp>
