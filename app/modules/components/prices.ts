import { and, asc, eq } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { prices, type Price } from '../../../db/schema/components.ts'
import { isUniqueViolation } from '../../lib/db-errors.ts'
import { conflict, notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'
import { toIso } from '../../lib/time.ts'
import { canonicalLabels, currentName, fingerprintOf, type Derive, type Sample } from '../metrics/index.ts'

export const TOKENS_METRIC = 'llm_tokens_total'
/** Named `llm_cost_usd` before 0.2 (metrics/names.ts keeps that name readable). */
export const COST_METRIC = 'llm_cost_usd_total'
/** Prices changed by another instance sharing the database are seen within this time. */
const CACHE_TTL_MS = 60_000

type PriceInput = { model: string; promptPer1M: number; completionPer1M: number; effectiveFrom?: number }

/**
 * The price table in memory, per model sorted by effective time, and the cost derivation that reads
 * it. The composition root builds one (app/services.ts): the metric store derives cost through it
 * and the price routes invalidate it on every change.
 */
export function createPrices(db: Db) {
  let byModel: Map<string, Price[]> | null = null
  let loadedAt = 0
  let loading: Promise<Map<string, Price[]>> | null = null

  async function load() {
    const rows = await db.select().from(prices).orderBy(asc(prices.model), asc(prices.effectiveFrom))
    const map = new Map<string, Price[]>()
    for (const r of rows) map.set(r.model, [...(map.get(r.model) ?? []), r])
    return map
  }

  async function table(now = Date.now()) {
    if (byModel && now - loadedAt < CACHE_TTL_MS) return byModel
    loading ??= load().finally(() => (loading = null))
    byModel = await loading
    loadedAt = now
    return byModel
  }

  /** The price in force for a model at a time: the latest one whose effective time is not after it. */
  async function priceAt(model: string, ts: number) {
    const list = (await table()).get(model)
    if (!list) return undefined
    let found: Price | undefined
    for (const p of list) if (p.effectiveFrom <= ts) found = p
    return found
  }

  /**
   * The ingest hook: every `llm_tokens_total{model, kind=prompt|completion}` sample with a price for
   * its model yields an `llm_cost_usd_total` sample with the same labels but `kind`, value tokens × price
   * per token, at the same time. Prompt and completion samples of one request (same labels, same ts)
   * add up into one cost point. A cost point the batch already carries for that series and time wins,
   * under either name (`llm_cost_usd` before 0.2): both names are read as one metric, so a derived
   * point beside the sender's own would count the cost twice.
   * Token values are per-request deltas, so the cost points are deltas too.
   */
  const deriveCost: Derive = async (samples: Sample[]) => {
    if (!samples.some((s) => s.name === TOKENS_METRIC)) return []
    const explicit = new Set<string>()
    for (const s of samples)
      if (currentName(s.name) === COST_METRIC)
        explicit.add(`${fingerprintOf(COST_METRIC, canonicalLabels(s.labels))}@${s.ts}`)
    const out = new Map<string, Sample>()
    for (const s of samples) {
      if (s.name !== TOKENS_METRIC) continue
      const { kind, ...rest } = s.labels
      if ((kind !== 'prompt' && kind !== 'completion') || !rest.model) continue
      const price = await priceAt(rest.model, s.ts)
      if (!price) continue
      const labels = canonicalLabels(rest)
      const key = `${fingerprintOf(COST_METRIC, labels)}@${s.ts}`
      if (explicit.has(key)) continue
      const cost = (s.value * (kind === 'prompt' ? price.promptPer1M : price.completionPer1M)) / 1_000_000
      const prev = out.get(key)
      if (prev) prev.value += cost
      else out.set(key, { name: COST_METRIC, labels, value: cost, ts: s.ts })
    }
    return [...out.values()]
  }

  // Only token counts are priced: a write without them (remote write's columns) is not made into samples for it.
  deriveCost.from = TOKENS_METRIC

  return { table, priceAt, deriveCost, invalidate: () => void (byModel = null) }
}
export type Prices = ReturnType<typeof createPrices>

export const priceJson = (p: Price) => ({
  id: p.id,
  model: p.model,
  promptPer1M: p.promptPer1M,
  completionPer1M: p.completionPer1M,
  effectiveFrom: toIso(p.effectiveFrom),
  createdAt: toIso(p.createdAt),
  updatedAt: toIso(p.updatedAt),
})

export const listPrices = (db: Db) => db.select().from(prices).orderBy(asc(prices.model), asc(prices.effectiveFrom))

export async function getPrice(db: Db, id: string) {
  const [row] = await db.select().from(prices).where(eq(prices.id, id))
  if (!row) throw notFound('Price')
  return row
}

async function assertFree(db: Db, model: string, effectiveFrom: number, exceptId?: string) {
  const [row] = await db
    .select({ id: prices.id })
    .from(prices)
    .where(and(eq(prices.model, model), eq(prices.effectiveFrom, effectiveFrom)))
  if (row && row.id !== exceptId) throw conflict(`A price for ${model} from ${toIso(effectiveFrom)} already exists`)
}

export async function createPrice(db: Db, input: PriceInput, now = Date.now()) {
  const effectiveFrom = input.effectiveFrom ?? 0
  await assertFree(db, input.model, effectiveFrom)
  const row = {
    id: newId(now),
    model: input.model,
    promptPer1M: input.promptPer1M,
    completionPer1M: input.completionPer1M,
    effectiveFrom,
    createdAt: now,
    updatedAt: now,
  }
  try {
    await db.insert(prices).values(row)
  } catch (error) {
    if (isUniqueViolation(error))
      throw conflict(`A price for ${input.model} from ${toIso(effectiveFrom)} already exists`)
    throw error
  }
  return row as Price
}

export async function updatePrice(db: Db, id: string, patch: Partial<PriceInput>, now = Date.now()) {
  const current = await getPrice(db, id)
  const next = {
    ...current,
    ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    updatedAt: now,
  } as Price
  if (next.model !== current.model || next.effectiveFrom !== current.effectiveFrom)
    await assertFree(db, next.model, next.effectiveFrom, id)
  try {
    await db
      .update(prices)
      .set({
        model: next.model,
        promptPer1M: next.promptPer1M,
        completionPer1M: next.completionPer1M,
        effectiveFrom: next.effectiveFrom,
        updatedAt: now,
      })
      .where(eq(prices.id, id))
  } catch (error) {
    if (isUniqueViolation(error))
      throw conflict(`A price for ${next.model} from ${toIso(next.effectiveFrom)} already exists`)
    throw error
  }
  return next
}

export async function deletePrice(db: Db, id: string) {
  const row = await getPrice(db, id)
  await db.delete(prices).where(eq(prices.id, id))
  return row
}
