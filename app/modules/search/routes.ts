import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { SearchQuery } from './input.ts'
import { search } from './service.ts'

/** `GET /api/v1/search?q=`: what the dashboard's search box finds, as JSON. */
export function searchRoutes(deps: Pick<ModuleDeps, 'db'>) {
  const app = new Hono<AppEnv>()
  app.get(
    '/api/v1/search',
    access('viewer'),
    describe('Search alerts, components, alert and healing rules, metrics by name or label (at most 8 of each)', [
      'search',
    ]),
    validate('query', SearchQuery),
    async (c) => c.json(await search(deps.db, c.req.valid('query').q)),
  )
  return app
}
