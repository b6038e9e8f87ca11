import { Hono } from 'hono'
import * as v from 'valibot'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { AppError, notFound } from '../../../lib/errors.ts'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { describe } from '../../../lib/route-meta.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { getBreakers, targetBreakerKey } from '../breakers/breakers.ts'
import {
  etagMatches,
  getRouteByName,
  listRoutes,
  routeEventJson,
  routeEvents,
  routeJson,
  type ModelRoute,
} from './model-routes.ts'
import type { HealingCtx } from '../types.ts'
import { clockOf } from '../../../lib/time.ts'
import { weightsValid } from './weights.ts'

export const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/
const RouteName = v.pipe(
  v.string('must be a string'),
  v.regex(ROUTE_NAME, 'must be 1–100 letters, digits, . _ -, starting with a letter or digit'),
)
const NameParam = v.object({ name: RouteName })

const Model = v.pipe(
  v.string('must be a string'),
  v.regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,89}$/,
    'must be 1–90 letters, digits, . _ : / @ + -, starting with a letter or digit',
  ),
)
const Host = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.maxLength(200, 'must be at most 200 characters'),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http or https URL such as http://127.0.0.1:11434',
  ),
  v.check((s) => {
    const u = new URL(s)
    return !u.username && !u.password && !u.search && !u.hash && /^[A-Za-z0-9._:/[\]-]+$/.test(s)
  }, 'must be scheme, host, port and optional path only (no credentials, query or fragment)'),
)
const Target = v.strictObject({
  model: Model,
  host: Host,
  weight: v.optional(
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(1000, 'must be at most 1000'),
    ),
  ),
})
const Targets = v.pipe(
  v.array(Target, 'must be a list of {model, host, weight?}'),
  v.minLength(1, 'must hold at least one target'),
  v.maxLength(20, 'must hold at most 20 targets'),
  v.check(
    (ts) => new Set(ts.map((t) => targetBreakerKey({ ...t, host: t.host.replace(/\/+$/, '') }))).size === ts.length,
    'must not list the same model on the same host twice',
  ),
  v.check(
    (ts) => weightsValid(ts),
    'weights must not all be 0: give at least one target a weight above 0 (or no target a weight)',
  ),
)
const FailbackAfter = v.pipe(
  v.number('must be a number'),
  v.integer('must be whole milliseconds'),
  v.minValue(0, 'must be at least 0'),
  v.maxValue(7 * 86_400_000, 'must be at most 7 days'),
)
const ProbePath = v.pipe(
  v.string('must be a string'),
  v.maxLength(200, 'must be at most 200 characters'),
  v.regex(/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/, 'must be empty or a path starting with /, such as /api/tags'),
)
const Description = v.pipe(v.string('must be a string'), v.maxLength(1000, 'must be at most 1000 characters'))

const RouteBody = v.strictObject({
  name: RouteName,
  description: v.optional(Description),
  targets: Targets,
  failbackAfterMs: v.optional(FailbackAfter),
  probePath: v.optional(ProbePath),
})
const RoutePatch = v.strictObject({
  description: v.optional(Description),
  targets: v.optional(Targets),
  failbackAfterMs: v.optional(FailbackAfter),
  probePath: v.optional(ProbePath),
})
const MoveBody = v.strictObject({
  reason: v.optional(v.pipe(v.string('must be a string'), v.maxLength(500, 'must be at most 500 characters'))),
  toIndex: v.optional(
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(19, 'must be at most 19'),
    ),
  ),
})
const FailoverBody = v.strictObject({ reason: MoveBody.entries.reason })
const ListQuery = v.object({ limit: LimitInput, cursor: CursorInput })
/** A caller key for weighted routes (the same key always lands on the same target). */
const CallerKey = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(200, 'must be at most 200 characters'),
)
// Not strict: agents add their own cache-busting parameters.
const ReadQuery = v.object({ key: v.optional(CallerKey) })
const CALLER_HEADER = 'x-caller-key'

/** Seconds an agent may reuse an answer without asking again (Cache-Control max-age). */
export const ROUTE_MAX_AGE_SECONDS = 1

/** Model routes: CRUD, the agents' read (ETag, 304), manual failover and failback, history. */
export function modelRouteRoutes(deps: ModuleDeps & { healing: HealingCtx }) {
  const { db } = deps
  const routes = deps.healing.modelRoutes
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['model routes']
  const withBreakers = async (r: ModelRoute) =>
    routeJson(r, await getBreakers(db, r.targets.map(targetBreakerKey)), now())
  const load = async (name: string) => {
    const r = await getRouteByName(db, name)
    if (!r) throw notFound('Model route')
    return r
  }

  app.get(
    '/api/v1/model-routes',
    access('viewer'),
    describe('List model routes by name, each with its active target and the breaker state of every target', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listRoutes(db, { limit: q.limit ?? 100, cursor: q.cursor })
      const breakers = await getBreakers(
        db,
        items.flatMap((r) => r.targets.map(targetBreakerKey)),
      )
      return c.json({ items: items.map((r) => routeJson(r, breakers, now())), next })
    },
  )

  app.post(
    '/api/v1/model-routes',
    access('operator'),
    describe(
      'Create a model route: name, ordered targets [{model, host, weight?}], failbackAfterMs, probePath',
      tags,
      201,
    ),
    validate('json', RouteBody),
    async (c) => {
      const r = await routes.create(c.req.valid('json'), now())
      await audit(db, c, { action: 'model_route.created', target: r.name, summary: `${r.targets.length} targets` })
      return c.json(await withBreakers(r), 201)
    },
  )

  app.get(
    '/api/v1/model-routes/:name',
    access('routes'),
    describe(
      "The route's active target, every target with its breaker state, and the version. Weighted routes: the target this caller is sent to, sticky per X-Caller-Key header or ?key= (weighted random without). Strong ETag; send If-None-Match for a 304. Viewers and keys with the routes scope may read it",
      tags,
    ),
    validate('param', NameParam),
    validate('query', ReadQuery, { fast: (q) => (q as { key?: string }).key === undefined }),
    async (c) => {
      const header = c.req.header(CALLER_HEADER)
      if (header !== undefined) {
        const checked = v.safeParse(CallerKey, header)
        if (!checked.success)
          throw new AppError(400, 'invalid_input', 'Invalid header', [
            { field: 'X-Caller-Key', message: checked.issues[0].message },
          ])
      }
      const answer = await routes.answer(c.req.valid('param').name, now(), header ?? c.req.valid('query').key)
      if (!answer) throw notFound('Model route')
      const headers: Record<string, string> = {
        ETag: answer.etag,
        'Cache-Control': `private, max-age=${ROUTE_MAX_AGE_SECONDS}`,
      }
      // A weighted answer depends on the caller key: a cache keyed on the URL alone must not share it.
      if (answer.weighted) headers.Vary = 'X-Caller-Key'
      if (etagMatches(c.req.header('if-none-match'), answer.etag)) return c.body(null, 304, headers)
      return c.body(answer.body, 200, { ...headers, 'Content-Type': 'application/json' })
    },
  )

  app.patch(
    '/api/v1/model-routes/:name',
    access('operator'),
    describe('Change a model route (targets, failbackAfterMs, probePath, description); bumps its version', tags),
    validate('param', NameParam),
    validate('json', RoutePatch),
    async (c) => {
      const before = await load(c.req.valid('param').name)
      const r = await routes.update(before, c.req.valid('json'), actor(c), now())
      await audit(db, c, {
        action: 'model_route.updated',
        target: r.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json(await withBreakers(r))
    },
  )

  app.delete(
    '/api/v1/model-routes/:name',
    access('operator'),
    describe('Delete a model route and its history', tags, 204),
    validate('param', NameParam),
    async (c) => {
      const r = await load(c.req.valid('param').name)
      await routes.remove(r.id)
      await audit(db, c, { action: 'model_route.deleted', target: r.name })
      return c.body(null, 204)
    },
  )

  app.post(
    '/api/v1/model-routes/:name/failover',
    access('operator'),
    describe('Move the route to its next healthy target now {reason?}; 409 when no other target is healthy', tags),
    validate('param', NameParam),
    validate('json', FailoverBody),
    async (c) => {
      const { name } = c.req.valid('param')
      await load(name)
      const reason = c.req.valid('json').reason || 'manual failover'
      const by = actor(c)
      const moved = await routes.failover(name, { reason: `${reason} (by ${by})`, actor: by, now: now() })
      if (!moved)
        throw new AppError(
          409,
          'no_healthy_target',
          'No other target of this route is healthy (every other breaker is OPEN or HALF_OPEN)',
        )
      await audit(db, c, {
        action: 'model_route.failover',
        target: name,
        summary: `${moved.from} → ${moved.to}: ${reason}`,
      })
      return c.json({ ...moved, route: await withBreakers(await load(name)) })
    },
  )

  app.post(
    '/api/v1/model-routes/:name/failback',
    access('operator'),
    describe(
      'Move the route back to target 0 (or toIndex) now {reason?, toIndex?}; 409 when it is already there',
      tags,
    ),
    validate('param', NameParam),
    validate('json', MoveBody),
    async (c) => {
      const { name } = c.req.valid('param')
      const r = await load(name)
      const body = c.req.valid('json')
      const to = body.toIndex ?? 0
      if (to >= r.targets.length)
        throw new AppError(400, 'invalid_input', 'Invalid body', [
          { field: 'toIndex', message: `must be below ${r.targets.length} (the number of targets)` },
        ])
      const by = actor(c)
      const reason = body.reason || 'manual failback'
      const moved = await routes.failback(name, {
        reason: `${reason} (by ${by})`,
        actor: by,
        now: now(),
        toIndex: to,
      })
      if (!moved) throw new AppError(409, 'conflict', `The route is already on target ${to}`)
      await audit(db, c, {
        action: 'model_route.failback',
        target: name,
        summary: `${moved.from} → ${moved.to}: ${reason}`,
      })
      return c.json({ ...moved, route: await withBreakers(await load(name)) })
    },
  )

  app.get(
    '/api/v1/model-routes/:name/events',
    access('viewer'),
    describe("A route's history of active-target changes, newest first", tags),
    validate('param', NameParam),
    validate('query', ListQuery),
    async (c) => {
      const r = await load(c.req.valid('param').name)
      const q = c.req.valid('query')
      const { items, next } = await routeEvents(db, r.id, { limit: q.limit ?? 100, cursor: q.cursor })
      return c.json({ items: items.map(routeEventJson), next })
    },
  )

  return app
}
