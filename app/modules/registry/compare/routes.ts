import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { compareVersions } from './compare.ts'
import { CompareInput, ModelId } from './input.ts'

/** `GET /api/v1/models/:id/compare?a=&b=&range=`: two versions of a model side by side, from metrics. */
export function compareRoutes(deps: Pick<ModuleDeps, 'db' | 'now'>) {
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  app.get(
    '/api/v1/models/:id/compare',
    access('viewer'),
    describe(
      'Compare versions a and b of a model over a range (1h, 24h, 7d; default 24h) from metrics labelled model and version: requests, latency p50/p95, tokens/s, positive-feedback rate, error rate, cost per 1k tokens, differences and whether each is larger than the noise (p < 0.05)',
      ['models'],
    ),
    validate('param', ModelId),
    validate('query', CompareInput),
    async (c) => {
      const { id } = c.req.valid('param')
      const q = c.req.valid('query')
      const to = now()
      return c.json(await compareVersions(deps.db, { model: id, a: q.a, b: q.b, from: to - q.range, to }))
    },
  )
  return app
}
