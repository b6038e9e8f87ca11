import { Hono } from 'hono'
import * as v from 'valibot'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { AppError } from '../../../lib/errors.ts'
import { access } from '../../../middleware/access.ts'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf, TimeInput } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { audit } from '../../audit/index.ts'
import { DurationBetween } from '../../metrics/index.ts'
import { alertJson } from '../lifecycle/alerts.ts'
import { regexProblem } from '../../../lib/matchers.ts'
import { IdParam, Matcher } from '../schema.ts'
import type { AlertsService } from '../service.ts'
import type { SilenceInput } from './silences.ts'

const DAY = 86_400_000
const Matchers = v.pipe(
  v.array(Matcher, 'must be a list of {label, op, value}'),
  v.minLength(1, 'must have at least one matcher'),
  v.maxLength(20, 'at most 20 matchers'),
)
const Comment = v.pipe(v.string('must be a string'), v.maxLength(1000, 'must be at most 1000 characters'))

export const SilenceBody = v.strictObject({
  matchers: Matchers,
  startsAt: v.optional(TimeInput),
  endsAt: v.optional(TimeInput),
  /** One-off: endsAt = startsAt + duration. With cron: how long each window lasts. */
  duration: v.optional(DurationBetween(1000, 366 * DAY, '30m, 2h, 1d')),
  cron: v.optional(
    v.pipe(
      v.string('must be a string'),
      v.trim(),
      v.minLength(1, 'must not be empty'),
      v.maxLength(200, 'must be at most 200 characters'),
    ),
  ),
  timezone: v.optional(v.pipe(v.string('must be a string'), v.maxLength(100, 'must be at most 100 characters'))),
  comment: v.optional(Comment),
})
const PreviewBody = v.strictObject({ matchers: Matchers })
/** The public title of a silence shown as maintenance on the status pages (matchers never are). */
const PublicBody = v.strictObject({
  title: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(200, 'must be at most 200 characters'),
  ),
})
const MuteBody = v.strictObject({
  duration: DurationBetween(60_000, 366 * DAY, '30m, 2h, 1d'),
  comment: v.optional(Comment),
})
const states = ['active', 'pending', 'expired'] as const
const SilenceListQuery = v.object({
  limit: LimitInput,
  cursor: CursorInput,
  state: v.optional(
    v.pipe(
      v.string(),
      v.maxLength(100),
      v.transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
      v.check(
        (list) => list.every((x) => (states as readonly string[]).includes(x)),
        'must be one or more of active, pending, expired, separated by commas',
      ),
    ),
  ),
})

const describeMatchers = (s: { matchers: { label: string; op: string; value: string }[] }) =>
  s.matchers.map((m) => `${m.label}${m.op}"${m.value}"`).join(', ')

/**
 * `onPublicSilenceChange`: called after a public silence changes (marked, unmarked, expired), so what the
 * status pages cached is dropped at once rather than at the end of its short life.
 */
export function silencesRoutes(deps: ModuleDeps & { alerts: AlertsService; onPublicSilenceChange?: () => void }) {
  const { db, alerts: service } = deps
  const { silences } = service
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['silences']
  // Apply a change to open alerts at once rather than at the next job tick; a failure here is
  // caught up by the job and never fails the request.
  const apply = (at: number) =>
    service
      .refreshSilenced(at)
      .catch((error) =>
        deps.log.error('applying silences failed', { error: String((error as Error)?.message ?? error) }),
      )

  app.get(
    '/api/v1/silences',
    access('viewer'),
    describe('List silences, newest first: state (active, pending, expired), limit, cursor', tags),
    validate('query', SilenceListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const at = now()
      const { items, next } = await silences.list(
        { limit: q.limit ?? 100, cursor: q.cursor, state: q.state as (typeof states)[number][] | undefined },
        at,
      )
      return c.json({ items: items.map((s) => silences.json(s, at)), next })
    },
  )

  app.post(
    '/api/v1/silences',
    access('operator'),
    describe(
      'Create a silence: matchers, startsAt (default now), endsAt or duration, comment; or a recurring window: cron + duration (+ timezone)',
      tags,
      201,
    ),
    validate('json', SilenceBody),
    async (c) => {
      const at = now()
      const row = await silences.create(c.req.valid('json') as SilenceInput, actor(c), at)
      await audit(db, c, {
        action: 'silence.created',
        target: row.id,
        summary: `${describeMatchers(row)}${row.cron ? ` every ${row.cron} for ${row.durationMs} ms` : ''}`,
      })
      await apply(at)
      return c.json(silences.json(row, at), 201)
    },
  )

  app.post(
    '/api/v1/silences/preview',
    access('operator'),
    describe('Which open alerts these matchers would silence (writes nothing)', tags),
    validate('json', PreviewBody),
    async (c) => {
      const { matchers } = c.req.valid('json')
      const problems = matchers.flatMap((m, i) => {
        const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : undefined
        return problem ? [{ field: `matchers.${i}.value`, message: problem }] : []
      })
      if (problems.length) throw new AppError(400, 'invalid_input', 'Invalid body', problems)
      const items = await silences.openAlertsMatching(matchers)
      return c.json({ count: items.length, items: items.map(alertJson) })
    },
  )

  app.get(
    '/api/v1/silences/:id',
    access('viewer'),
    describe('A silence with the open alerts its matchers select', tags),
    validate('param', IdParam),
    async (c) => {
      const row = await silences.get(c.req.valid('param').id)
      return c.json({
        ...silences.json(row, now()),
        alerts: (await silences.openAlertsMatching(row.matchers)).map(alertJson),
      })
    },
  )

  app.post(
    '/api/v1/silences/:id/expire',
    access('operator'),
    describe('Expire a silence now (it stays listed as expired)', tags),
    validate('param', IdParam),
    async (c) => {
      const at = now()
      const row = await silences.expire(c.req.valid('param').id, at)
      await audit(db, c, { action: 'silence.expired', target: row.id, summary: describeMatchers(row) })
      await apply(at)
      if (row.publicTitle !== null) deps.onPublicSilenceChange?.()
      return c.json(silences.json(row, at))
    },
  )

  // Publishing is an admin's act (it puts text on pages anyone can read), unlike making the silence.
  app.put(
    '/api/v1/silences/:id/public',
    access('admin'),
    describe('Mark a silence public: shown on the status pages as maintenance under this title', tags),
    validate('param', IdParam),
    validate('json', PublicBody),
    async (c) => {
      const { title } = c.req.valid('json')
      const row = await silences.setPublic(c.req.valid('param').id, title)
      await audit(db, c, { action: 'silence.published', target: row.id, summary: `maintenance "${title}"` })
      deps.onPublicSilenceChange?.()
      return c.json(silences.json(row, now()))
    },
  )

  app.delete(
    '/api/v1/silences/:id/public',
    access('admin'),
    describe('Make a silence private again (off the status pages)', tags),
    validate('param', IdParam),
    async (c) => {
      const row = await silences.setPublic(c.req.valid('param').id, null)
      await audit(db, c, { action: 'silence.unpublished', target: row.id, summary: describeMatchers(row) })
      deps.onPublicSilenceChange?.()
      return c.json(silences.json(row, now()))
    },
  )

  app.post(
    '/api/v1/alerts/:id/mute',
    access('operator'),
    describe('Mute an alert: a silence with = matchers for its labels, for a duration (e.g. 1h)', tags, 201),
    validate('param', IdParam),
    validate('json', MuteBody),
    async (c) => {
      const { alert } = await service.get(c.req.valid('param').id)
      const body = c.req.valid('json')
      const matchers = Object.entries(alert.labels)
        .filter(([, value]) => value !== '')
        .map(([label, value]) => ({ label, op: '=' as const, value }))
      if (!matchers.length) throw new AppError(409, 'conflict', 'The alert has no labels to mute by')
      const at = now()
      const row = await silences.create(
        {
          matchers,
          startsAt: at,
          duration: body.duration,
          comment: body.comment ?? `Muted from alert "${alert.title}"`,
        },
        actor(c),
        at,
      )
      await audit(db, c, {
        action: 'silence.created',
        target: row.id,
        summary: `mute of alert ${alert.id} for ${body.duration} ms`,
      })
      await apply(at)
      return c.json(silences.json(row, at), 201)
    },
  )

  return app
}
