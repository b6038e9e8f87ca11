import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { describe, type RouteInfo } from '../../lib/route-meta.ts'
import { buildOpenApi } from './openapi.ts'
import { readiness } from './service.ts'

export const VERSION = '0.1.0'

export function systemRoutes(deps: ModuleDeps, routes: () => RouteInfo[]) {
  const app = new Hono<AppEnv>()
  const tags = ['system']

  app.get('/health', access('public'), describe('Liveness: the process answers', tags), (c) =>
    c.json({ status: 'ok', version: VERSION }),
  )

  app.get(
    '/ready',
    access('public'),
    describe('Readiness: database, migrations, scheduler; 503 with reasons', tags),
    async (c) => {
      const checks = await readiness(deps)
      const ok = checks.every((x) => x.ok)
      return c.json({ status: ok ? 'ready' : 'not_ready', checks }, ok ? 200 : 503)
    },
  )

  app.get(
    '/metrics',
    access(deps.config.METRICS_PUBLIC ? 'public' : 'viewer'),
    describe('Homeostat’s own metrics, Prometheus text format', tags),
    (c) =>
      c.text(deps.telemetry.registry.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }),
  )

  let doc: Promise<unknown> | undefined
  app.get('/api/v1/openapi.json', access('viewer'), describe('This API as OpenAPI 3.1', tags), async (c) =>
    c.json(await (doc ??= buildOpenApi(routes(), VERSION, deps.config.PUBLIC_URL))),
  )

  app.get(
    '/api/v1/jobs',
    access('viewer'),
    describe('Scheduled jobs: schedule, next run, last run, skipped ticks', tags),
    async (c) => c.json(deps.scheduler ? await deps.scheduler.status() : { running: false, instance: null, jobs: [] }),
  )

  return app
}
