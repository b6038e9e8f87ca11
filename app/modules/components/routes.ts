import { Hono, type Context } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access, allows } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { notFound } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { clockOf } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import type { MetricStore } from '../metrics/index.ts'
import { overview } from './overview.ts'
import type { Prices } from './prices.ts'
import { priceRoutes } from './prices-routes.ts'
import {
  ComponentBody,
  ComponentPatch,
  HistoryQuery,
  IdParam,
  ListQuery,
  OverviewQuery,
  PushQuery,
  TokenParam,
} from './schema.ts'
import {
  componentJson,
  createComponent,
  deleteComponent,
  findPushTarget,
  getComponent,
  historyJson,
  listComponents,
  listHistory,
  recordResult,
  rotateToken,
  type StateChangeListener,
  updateComponent,
} from './service.ts'
import { componentUptime } from './uptime.ts'

/** A short description of a component's check for the audit log. */
export const checkSummary = (c: {
  checkType: string
  method: string | null
  intervalSeconds: number | null
  expectedIntervalSeconds: number | null
  kind: string
}) =>
  c.checkType === 'http'
    ? `${c.kind}, http ${c.method} every ${c.intervalSeconds}s`
    : `${c.kind}, push every ${c.expectedIntervalSeconds}s`

export function componentsRoutes(
  deps: ModuleDeps & {
    statusStore: MetricStore
    prices: Pick<Prices, 'invalidate'>
    componentStateChanged?: StateChangeListener
  },
) {
  const { db, sealer, config, statusStore: store, componentStateChanged: onStateChange } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['components']
  const show = (c: Context<AppEnv>) => ({
    sealer,
    publicUrl: config.PUBLIC_URL,
    showToken: allows(requirePrincipal(c), 'operator'),
  })

  app.get(
    '/api/v1/components',
    access('viewer'),
    describe('List components with their current status', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listComponents(db, { limit: q.limit ?? 100, cursor: q.cursor, kind: q.kind })
      const opts = show(c)
      return c.json({ items: items.map((x) => componentJson(x, opts)), next })
    },
  )

  app.post(
    '/api/v1/components',
    access('operator'),
    describe('Create a component with an HTTP check or a push heartbeat', tags, 201),
    validate('json', ComponentBody),
    async (c) => {
      const row = await createComponent(deps, c.req.valid('json'), now())
      await audit(db, c, { action: 'component.created', target: row.name, summary: checkSummary(row) })
      return c.json(componentJson(row, show(c), { uptime: { '24h': null, '7d': null, '30d': null } }), 201)
    },
  )

  app.get(
    '/api/v1/components/:id',
    access('viewer'),
    describe('A component: configuration, current status and uptime % over 24h, 7d and 30d', tags),
    validate('param', IdParam),
    async (c) => {
      const row = await getComponent(db, c.req.valid('param').id)
      return c.json(componentJson(row, show(c), { uptime: await componentUptime(db, row.id, now()) }))
    },
  )

  app.patch(
    '/api/v1/components/:id',
    access('operator'),
    describe('Change a component; http or push fields merge into the current check', tags),
    validate('param', IdParam),
    validate('json', ComponentPatch),
    async (c) => {
      const before = await getComponent(db, c.req.valid('param').id)
      const row = await updateComponent(deps, before.id, c.req.valid('json'), now())
      const changed = Object.keys(c.req.valid('json')).join(', ')
      await audit(db, c, {
        action: 'component.updated',
        target: row.name,
        summary: `${before.name !== row.name ? `renamed from ${before.name}; ` : ''}changed ${changed || 'nothing'}; ${checkSummary(row)}`,
      })
      return c.json(componentJson(row, show(c), { uptime: await componentUptime(db, row.id, now()) }))
    },
  )

  app.delete(
    '/api/v1/components/:id',
    access('operator'),
    describe('Delete a component and its status history (its metrics stay)', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const row = await deleteComponent(db, c.req.valid('param').id)
      await audit(db, c, { action: 'component.deleted', target: row.name, summary: checkSummary(row) })
      return c.body(null, 204)
    },
  )

  app.post(
    '/api/v1/components/:id/rotate-token',
    access('operator'),
    describe("Replace a push component's token; the old URL stops working", tags),
    validate('param', IdParam),
    async (c) => {
      const row = await rotateToken(deps, c.req.valid('param').id, now())
      await audit(db, c, { action: 'component.token_rotated', target: row.name })
      return c.json(componentJson(row, show(c)))
    },
  )

  app.get(
    '/api/v1/components/:id/history',
    access('viewer'),
    describe('Status history, newest first: from, to, limit, cursor', tags),
    validate('param', IdParam),
    validate('query', HistoryQuery),
    async (c) => {
      const row = await getComponent(db, c.req.valid('param').id)
      const q = c.req.valid('query')
      const { items, next } = await listHistory(db, row.id, { ...q, limit: q.limit ?? 100 })
      return c.json({ items: items.map(historyJson), next })
    },
  )

  // Uptime Kuma push monitors: the token in the URL is the credential.
  app.on(
    ['GET', 'POST'],
    '/api/v1/push/:token',
    access('public'),
    describe('Heartbeat push (Uptime Kuma compatible): ?status=up|down&msg=&ping=', ['push']),
    validate('param', TokenParam),
    validate('query', PushQuery),
    async (c) => {
      const comp = await findPushTarget(db, c.req.valid('param').token)
      if (!comp) throw notFound('Push token')
      const q = c.req.valid('query')
      const ts = now()
      await recordResult({ db, store, onStateChange }, comp, {
        ts,
        up: q.status === 'up',
        source: 'push',
        message: q.msg || null,
        latencyMs: q.ping ?? null,
        // `ping` comes in ms (Uptime Kuma's); stored in seconds (`ping_ms` before 0.2: metrics/names.ts).
        metrics: q.ping !== undefined ? [{ name: 'heartbeat_ping_seconds', value: q.ping / 1000 }] : [],
        nextCheckAt: ts + comp.intervalMs,
      })
      return c.json({ ok: true })
    },
  )

  app.get(
    '/api/v1/metrics/overview',
    access('viewer'),
    describe(
      'Dashboard data per component for a range (default 24h): status, uptime, error rate, p95 latency, tokens, cost; totals',
      ['metrics'],
    ),
    validate('query', OverviewQuery),
    async (c) => {
      return c.json(await overview(db, c.req.valid('query').range ?? 86_400_000, now()))
    },
  )

  app.route('/', priceRoutes(deps))
  return app
}
