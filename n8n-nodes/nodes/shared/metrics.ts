/**
 * Sending points in batches: at most `batchSize` (≤ 1000) points per POST /api/v1/metrics. The
 * server takes a batch whole or not at all and names each bad point (`points.<i>.<field>`); a
 * rejected batch is mapped back to the items, and with Continue On Fail the rest is sent again.
 */
import type { IDataObject, JsonObject } from 'n8n-workflow'
import { NodeApiError } from 'n8n-workflow'
import { apiError, send, serverError, type Context, type ServerError } from './transport'

export const MAX_BATCH = 1000

export type Point = { name: string; value: number; labels: Record<string, string>; ts: number }
export type Pending = { itemIndex: number; point: Point }
export type Outcome = { ok: true } | { ok: false; error: Error }

const chunks = <T>(list: T[], size: number) =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size))

/** Which positions of the batch the server named, e.g. `points.3.value` → 3. */
function namedPositions(e: ServerError): Map<number, string[]> {
  const named = new Map<number, string[]>()
  for (const d of e.details) {
    const m = /^points\.(\d+)(?:\.(.+))?$/.exec(d.field)
    if (!m) continue
    const list = named.get(Number(m[1])) ?? []
    list.push(`${m[2] ?? 'point'}: ${d.message}`)
    named.set(Number(m[1]), list)
  }
  return named
}

/**
 * Sends every pending point; returns an outcome per item index and the number of requests made.
 * Without `continueOnFail`, the first failure throws (naming the item when the server named it).
 */
export async function recordPoints(
  ctx: Context,
  pending: Pending[],
  options: { batchSize: number; continueOnFail: boolean },
) {
  const outcomes = new Map<number, Outcome>()
  let requests = 0
  const size = Math.max(1, Math.min(MAX_BATCH, Math.floor(options.batchSize) || MAX_BATCH))
  for (const chunk of chunks(pending, size)) {
    let batch = chunk
    for (let pass = 1; batch.length; pass++) {
      requests++
      let res: { statusCode: number; body: unknown }
      try {
        res = await send(ctx, 'POST', '/api/v1/metrics', {
          body: { points: batch.map((p) => p.point as unknown as IDataObject) },
          itemIndex: batch[0]!.itemIndex,
        })
      } catch (error) {
        const failure =
          error instanceof NodeApiError
            ? error
            : new NodeApiError(ctx.getNode(), { message: String((error as Error).message) } as JsonObject, {
                itemIndex: batch[0]!.itemIndex,
              })
        if (!options.continueOnFail) throw failure
        for (const p of batch) outcomes.set(p.itemIndex, { ok: false, error: failure })
        break
      }
      if (res.statusCode < 400) {
        for (const p of batch) outcomes.set(p.itemIndex, { ok: true })
        break
      }
      const e = serverError(res.statusCode, res.body)
      const named = res.statusCode === 400 ? namedPositions(e) : new Map<number, string[]>()
      if (!options.continueOnFail) {
        const [first] = [...named.keys()].sort((a, b) => a - b)
        if (first !== undefined && batch[first]) {
          const itemIndex = batch[first].itemIndex
          throw apiError(
            ctx,
            {
              ...e,
              message: `item ${itemIndex} was refused (${named.get(first)!.join('; ')}); nothing in its batch of ${batch.length} was written`,
            },
            itemIndex,
          )
        }
        throw apiError(ctx, e, batch[0]!.itemIndex)
      }
      // Continue On Fail: the named points fail, the others go again once.
      if (!named.size || pass > 1) {
        for (const p of batch) outcomes.set(p.itemIndex, { ok: false, error: apiError(ctx, e, p.itemIndex) })
        break
      }
      for (const [pos, problems] of named) {
        const p = batch[pos]
        if (p)
          outcomes.set(p.itemIndex, {
            ok: false,
            error: apiError(
              ctx,
              { ...e, message: `item ${p.itemIndex} was refused (${problems.join('; ')})`, details: [] },
              p.itemIndex,
            ),
          })
      }
      batch = batch.filter((_, pos) => !named.has(pos))
    }
  }
  return { outcomes, requests }
}
