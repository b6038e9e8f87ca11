import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { badRequest } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { CompareQuery, ReportQuery } from './input.ts'
import { compare, report, type Scope } from './reports.ts'
import type { Runs } from './service.ts'

const WEEK_MS = 7 * 86_400_000

/** Reports over runs (docs/runs.md#reports), for viewers. The period defaults to the last 7 days. */
export function runReportRoutes(deps: ModuleDeps & { runs: Runs }) {
  const { db, runs } = deps
  const app = new Hono<AppEnv>()
  const tags = ['runs']

  const period = (q: { from?: number; to?: number }) => {
    const to = q.to ?? runs.now() + 1
    const from = q.from ?? to - WEEK_MS
    if (from >= to) throw badRequest('Invalid query', [{ field: 'from', message: 'must be before to' }])
    return { from, to }
  }

  app.get(
    '/api/v1/run-reports',
    access('viewer'),
    describe(
      'Success rate by role, model and label (?by=), attempts per task, p50/p95 durations, cost, failure classes',
      tags,
    ),
    validate('query', ReportQuery),
    async (c) => {
      const q = c.req.valid('query')
      return c.json(await report(db, { ...period(q), label: q.label }, q.by))
    },
  )

  app.get(
    '/api/v1/run-reports/compare',
    access('viewer'),
    describe('Two labels (?a=team:multi&b=team:single) or two periods (?a=<from>..<to>&b=…) side by side', tags),
    validate('query', CompareQuery),
    async (c) => {
      const q = c.req.valid('query')
      const base = period(q)
      const scope = (side: typeof q.a): Scope =>
        side.kind === 'period' ? { from: side.from, to: side.to } : { ...base, label: side.label }
      return c.json(await compare(db, scope(q.a), scope(q.b)))
    },
  )

  return app
}
