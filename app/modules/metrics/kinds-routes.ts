/**
 * Metric kinds through the API (docs/metrics.md#counters-deltas-and-gauges): for senders whose
 * format cannot say it (JSON points, remote write), an operator declares once that a name's points
 * are deltas, counters or gauges. Names Homeostat writes itself keep their kind (409).
 */
import { asc } from 'drizzle-orm'
import { Hono } from 'hono'
import * as v from 'valibot'
import { metricKinds } from '../../../db/schema/metrics.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { conflict } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { toIso } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { audit } from '../audit/index.ts'
import { BUILT_IN_KINDS, KINDS } from './kinds.ts'
import { currentName } from './names.ts'
import { MetricName } from './schema.ts'
import type { MetricStore } from './store.ts'

const KindParam = v.object({ name: MetricName })
const KindBody = v.object({ kind: v.picklist(KINDS, `must be one of ${KINDS.join(', ')}`) })

export function metricKindsRoutes(deps: ModuleDeps & { metricStore: MetricStore }) {
  const { db, metricStore: store } = deps
  const app = new Hono<AppEnv>()
  const tags = ['metrics']

  app.get(
    '/api/v1/metrics/kinds',
    access('viewer'),
    describe('Metric kinds: counter, delta or gauge, built in and declared', tags),
    async (c) => {
      const declared = await db.select().from(metricKinds).orderBy(asc(metricKinds.name))
      return c.json({
        builtIn: Object.entries(BUILT_IN_KINDS).map(([name, kind]) => ({ name, kind })),
        declared: declared.map((r) => ({
          name: r.name,
          kind: r.kind,
          source: r.source,
          updatedAt: toIso(r.updatedAt),
        })),
      })
    },
  )

  app.put(
    '/api/v1/metrics/kinds/:name',
    access('operator'),
    describe('Declare what a metric’s points are (counter, delta, gauge); rate functions follow it', tags),
    validate('param', KindParam),
    validate('json', KindBody),
    async (c) => {
      const { name } = c.req.valid('param')
      const { kind } = c.req.valid('json')
      const stored = currentName(name)
      const fixed = BUILT_IN_KINDS[stored]
      if (fixed) throw conflict(`${stored} is written by Homeostat as a ${fixed}; its kind cannot be changed`)
      await store.declareKinds(new Map([[stored, kind]]), 'api')
      await audit(db, c, { action: 'metric_kind.set', target: stored, summary: `${stored} is a ${kind}` })
      return c.json({ name: stored, kind })
    },
  )

  return app
}
