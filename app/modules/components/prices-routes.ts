import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { describe } from '../../lib/route-meta.ts'
import { clockOf, toIso } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import { createPrice, deletePrice, getPrice, listPrices, type Prices, priceJson, updatePrice } from './prices.ts'
import { PriceBody, PriceIdParam, PricePatch } from './schema.ts'

const summary = (p: { promptPer1M: number; completionPer1M: number; effectiveFrom: number }) =>
  `prompt $${p.promptPer1M}/1M, completion $${p.completionPer1M}/1M${p.effectiveFrom ? ` from ${toIso(p.effectiveFrom)}` : ''}`

/**
 * Per-model LLM prices (USD per 1M tokens) that turn llm_tokens_total into llm_cost_usd at ingest.
 * Every change invalidates the in-memory price table the ingest derives cost from.
 */
export function priceRoutes(deps: ModuleDeps & { prices: Pick<Prices, 'invalidate'> }) {
  const { db, prices } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['prices']

  app.get('/api/v1/prices', access('viewer'), describe('List model prices (USD per 1M tokens)', tags), async (c) =>
    c.json({ items: (await listPrices(db)).map(priceJson) }),
  )

  app.post(
    '/api/v1/prices',
    access('operator'),
    describe('Add a model price: model, promptPer1M, completionPer1M (USD per 1M tokens), effectiveFrom?', tags, 201),
    validate('json', PriceBody),
    async (c) => {
      const row = await createPrice(db, c.req.valid('json'), now())
      prices.invalidate()
      await audit(db, c, { action: 'price.created', target: row.model, summary: summary(row) })
      return c.json(priceJson(row), 201)
    },
  )

  app.get(
    '/api/v1/prices/:id',
    access('viewer'),
    describe('One model price', tags),
    validate('param', PriceIdParam),
    async (c) => c.json(priceJson(await getPrice(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/prices/:id',
    access('operator'),
    describe('Change a model price', tags),
    validate('param', PriceIdParam),
    validate('json', PricePatch),
    async (c) => {
      const row = await updatePrice(db, c.req.valid('param').id, c.req.valid('json'), now())
      prices.invalidate()
      await audit(db, c, { action: 'price.updated', target: row.model, summary: summary(row) })
      return c.json(priceJson(row))
    },
  )

  app.delete(
    '/api/v1/prices/:id',
    access('operator'),
    describe('Delete a model price', tags, 204),
    validate('param', PriceIdParam),
    async (c) => {
      const row = await deletePrice(db, c.req.valid('param').id)
      prices.invalidate()
      await audit(db, c, { action: 'price.deleted', target: row.model, summary: summary(row) })
      return c.body(null, 204)
    },
  )

  return app
}
