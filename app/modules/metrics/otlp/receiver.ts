/**
 * The OTLP metrics receiver (docs/opentelemetry.md): decoded points become samples (map.ts) written
 * through the shared metric store in one atomic batch, so the limits and derivations of every other
 * ingest route hold here too (series per metric, llm_cost_usd_total from the price table, rules after the
 * write). Built once in app/services.ts: it keeps the GenAI streams' last cumulative values.
 */
import { boundedMap } from '../../../lib/bounded-map.ts'
import { badRequest } from '../../../lib/errors.ts'
import type { MetricStore } from '../store.ts'
import type { Decoded } from './decode.ts'
import { createDeltaTracker, samplesOf } from './map.ts'

export type OtlpMetricsDeps = {
  store: Pick<MetricStore, 'write' | 'declareKinds'>
  /** Data points one request may carry (METRICS_MAX_BATCH, as POST /api/v1/metrics). */
  maxPoints: number
  /** GenAI streams whose last cumulative value is kept (least recently used forgotten first). */
  maxStreams?: number
  startedAt?: number
}

const MAX_FUTURE_MS = 10 * 60_000

export function createOtlpMetrics(deps: OtlpMetricsDeps) {
  const tracker = createDeltaTracker(boundedMap(deps.maxStreams ?? 100_000), deps.startedAt ?? Date.now())

  /** Stores a request's usable points; answers what was written and what was rejected, and why. */
  async function ingest(decoded: Decoded, now = Date.now()) {
    const total = decoded.points.length + decoded.rejected
    if (total > deps.maxPoints)
      throw badRequest('Too many data points; nothing was written', [
        { field: 'resourceMetrics', message: `has ${total} data points; at most ${deps.maxPoints} per request` },
      ])
    const mapped = samplesOf(decoded.points, tracker, now + MAX_FUTURE_MS)
    const { written } = await deps.store.write(mapped.samples, now)
    // After the write: a refused batch declares nothing.
    await deps.store.declareKinds(mapped.kinds, 'otlp', now)
    return {
      written,
      rejected: decoded.rejected + mapped.rejected,
      problems: [...decoded.problems, ...mapped.problems].slice(0, 10),
    }
  }
  return { ingest }
}
export type OtlpMetrics = ReturnType<typeof createOtlpMetrics>
