import { Hono } from 'hono'
import * as v from 'valibot'
import { breakerStates } from '../../../../db/schema/healing.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { AppError, notFound } from '../../../lib/errors.ts'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { describe } from '../../../lib/route-meta.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import {
  BREAKER_KEY,
  breakerEventJson,
  breakerHistory,
  breakerJson,
  getBreaker,
  KEY_RULE,
  listBreakers,
  settingsOf,
} from './breakers.ts'
import type { HealingCtx } from '../types.ts'
import { clockOf } from '../../../lib/time.ts'

export const BreakerKey = v.pipe(v.string('must be a string'), v.regex(BREAKER_KEY, KEY_RULE))
const KeyParam = v.object({ key: BreakerKey })

/** `{ok: true|false}` or `{status: 'success'|'failure'}`, with an optional error text. */
const ReportBody = v.pipe(
  v.strictObject({
    ok: v.optional(v.boolean('must be true or false')),
    status: v.optional(v.picklist(['success', 'failure'], 'must be success or failure')),
    error: v.optional(v.pipe(v.string('must be a string'), v.maxLength(1000, 'must be at most 1000 characters'))),
  }),
  v.forward(
    v.partialCheck(
      [['ok'], ['status']],
      (b) => b.ok !== undefined || b.status !== undefined,
      'give ok (true/false) or status (success/failure)',
    ),
    ['ok'],
  ),
  v.forward(
    v.partialCheck(
      [['ok'], ['status']],
      (b) => b.ok === undefined || b.status === undefined || b.ok === (b.status === 'success'),
      'ok and status disagree',
    ),
    ['status'],
  ),
)

const whole = (min: number, max: number) =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  )
/** Any of the settings; checked against the merged result in the route (minCalls and consecutiveFailures within windowSize, maxBackoffMs ≥ baseBackoffMs). */
const SettingsBody = v.strictObject({
  windowSize: v.optional(whole(1, 100)),
  failureRate: v.optional(
    v.pipe(v.number('must be a number'), v.minValue(0.01, 'must be at least 0.01'), v.maxValue(1, 'must be at most 1')),
  ),
  minCalls: v.optional(whole(1, 100)),
  consecutiveFailures: v.optional(whole(1, 100)),
  baseBackoffMs: v.optional(whole(100, 3_600_000)),
  maxBackoffMs: v.optional(whole(100, 86_400_000)),
  successesToClose: v.optional(whole(1, 100)),
})

const ListQuery = v.object({
  limit: LimitInput,
  cursor: CursorInput,
  state: v.optional(v.picklist(breakerStates, `must be one of ${breakerStates.join(', ')}`)),
  prefix: v.optional(v.pipe(v.string(), v.maxLength(300, 'must be at most 300 characters'))),
})

/** Circuit breakers: list, one with its recent transitions, report an outcome, reset. */
export function breakerRoutes(deps: ModuleDeps & { healing: HealingCtx }) {
  const { db } = deps
  const { breakers, modelRoutes } = deps.healing
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['healing']

  app.get(
    '/api/v1/healing/breakers',
    access('viewer'),
    describe('List circuit breakers by key: state, window, backoff; filter by state or key prefix', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const at = now()
      const { items, next } = await listBreakers(db, {
        limit: q.limit ?? 100,
        cursor: q.cursor,
        state: q.state,
        prefix: q.prefix,
      })
      return c.json({ items: items.map((b) => breakerJson(b, at)), next })
    },
  )

  app.get(
    '/api/v1/healing/breakers/:key',
    access('viewer'),
    describe('A circuit breaker and its last 50 transitions (the key URL-encoded)', tags),
    validate('param', KeyParam),
    async (c) => {
      const { key } = c.req.valid('param')
      const b = await getBreaker(db, key)
      if (!b) throw notFound('Breaker')
      return c.json({ ...breakerJson(b, now()), events: (await breakerHistory(db, key)).map(breakerEventJson) })
    },
  )

  app.post(
    '/api/v1/healing/breakers/:key/report',
    // Its own scope: opening a breaker fails traffic over and may start healing, more than an ingest
    // key (sitting in Prometheus' config) should be able to do.
    access('breakers'),
    describe(
      'Report one call outcome to a breaker {ok | status: success|failure, error?}; created CLOSED on first report. Keys with the breakers scope may call it',
      tags,
    ),
    validate('param', KeyParam),
    validate('json', ReportBody),
    async (c) => {
      const { key } = c.req.valid('param')
      const body = c.req.valid('json')
      const ok = body.ok ?? body.status === 'success'
      const { breaker, transition } = await breakers.report(
        key,
        { ok, ...(body.error ? { error: body.error } : {}) },
        now(),
      )
      if (transition) {
        modelRoutes.invalidate()
        if (transition.to === 'OPEN') deps.healing.kick()
        await audit(db, c, {
          action: 'breaker.transition',
          target: key,
          summary: `${transition.from} → ${transition.to}`,
        })
      }
      return c.json({ ...breakerJson(breaker, now()), transition: transition ?? null })
    },
  )

  app.patch(
    '/api/v1/healing/breakers/:key',
    access('operator'),
    describe(
      'Tune a breaker: windowSize, failureRate, minCalls, consecutiveFailures, baseBackoffMs, maxBackoffMs, successesToClose (merged over the current ones; creates the breaker CLOSED if new)',
      tags,
    ),
    validate('param', KeyParam),
    validate('json', SettingsBody),
    async (c) => {
      const { key } = c.req.valid('param')
      const patch = c.req.valid('json')
      const before = await getBreaker(db, key)
      const merged = { ...(before ? settingsOf(before) : settingsOf({ settings: {} as never })), ...patch }
      const problems = [
        ...(merged.minCalls > merged.windowSize
          ? [{ field: 'minCalls', message: `must be at most windowSize (${merged.windowSize})` }]
          : []),
        ...(merged.consecutiveFailures > merged.windowSize
          ? [{ field: 'consecutiveFailures', message: `must be at most windowSize (${merged.windowSize})` }]
          : []),
        ...(merged.maxBackoffMs < merged.baseBackoffMs
          ? [{ field: 'maxBackoffMs', message: `must be at least baseBackoffMs (${merged.baseBackoffMs})` }]
          : []),
      ]
      if (problems.length) throw new AppError(400, 'invalid_input', 'Invalid body', problems)
      const b = await breakers.updateSettings(key, patch, now())
      await audit(db, c, {
        action: 'breaker.updated',
        target: key,
        summary: `changed ${Object.keys(patch).join(', ') || 'nothing'}`,
      })
      return c.json(breakerJson(b, now()))
    },
  )

  app.post(
    '/api/v1/healing/breakers/:key/reset',
    access('operator'),
    describe('Close a breaker by hand: window emptied, backoff reset', tags),
    validate('param', KeyParam),
    async (c) => {
      const { key } = c.req.valid('param')
      const b = await breakers.reset(key, { actor: actor(c), now: now() })
      if (!b) throw notFound('Breaker')
      modelRoutes.invalidate()
      await audit(db, c, { action: 'breaker.reset', target: key })
      return c.json(breakerJson(b, now()))
    },
  )

  return app
}
