import type { Context } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { AppError } from '../../lib/errors.ts'
import type { WriteDecoder } from './remote-write.ts'
import { type MetricStore, sampleCount } from './store.ts'

// The decoder's code (protobufjs) costs several MB of memory: it loads with the first
// remote write. This module-level promise is a lazy import of code, the same for every app in the
// process, not state about data: what a decoder remembers lives in the handler's own decoder.
let codec: Promise<typeof import('./remote-write.ts')> | undefined
const loadCodec = () => (codec ??= import('./remote-write.ts'))

function checkHeaders(c: Context) {
  const type = c.req.header('content-type') ?? ''
  const [media, ...params] = type.split(';').map((p) => p.trim().toLowerCase())
  const proto = params.find((p) => p.startsWith('proto='))?.slice(6)
  if (media !== 'application/x-protobuf' || (proto && proto !== 'prometheus.writerequest')) {
    throw new AppError(
      415,
      'unsupported_media_type',
      'Content-Type must be application/x-protobuf (Prometheus remote write 1.0, prometheus.WriteRequest)',
      [{ field: 'Content-Type', message: type || 'missing' }],
    )
  }
  const encoding = (c.req.header('content-encoding') ?? 'snappy').trim().toLowerCase()
  if (encoding !== 'snappy')
    throw new AppError(415, 'unsupported_media_type', 'Content-Encoding must be snappy', [
      { field: 'Content-Encoding', message: encoding },
    ])
}

/**
 * POST /api/v1/write: stores the request as one atomic batch through the shared metric store and
 * answers 204, with the stored and dropped sample counts in headers.
 */
export function remoteWriteHandler(store: MetricStore, deps: Pick<ModuleDeps, 'config' | 'telemetry'>) {
  const counter = deps.telemetry.registry.counter(
    'homeostat_remote_write_samples_total',
    'Samples received by remote write, by outcome (stored, dropped_non_finite)',
  )
  // This route's decoder and its memory of the series it has checked, made with the first request.
  let decoder: WriteDecoder | undefined
  return async (c: Context<AppEnv>) => {
    checkHeaders(c)
    const now = Date.now()
    const body = new Uint8Array(await c.req.arrayBuffer())
    const { createWriteDecoder, MAX_EXPANSION } = await loadCodec()
    decoder ??= createWriteDecoder()
    const { samples, dropped } = decoder.decode(body, {
      // Relative to the body limit, and absolute: a raised body limit must not raise what one
      // request may expand to in memory.
      maxDecodedBytes: Math.min(
        deps.config.INGEST_BODY_LIMIT_BYTES * MAX_EXPANSION,
        deps.config.METRICS_REMOTE_WRITE_MAX_DECODED_BYTES,
      ),
      maxSamples: deps.config.METRICS_MAX_BATCH,
      now,
    })
    const { written } = await store.write(samples, now)
    counter.inc({ outcome: 'stored' }, sampleCount(samples))
    if (dropped) counter.inc({ outcome: 'dropped_non_finite' }, dropped)
    c.header('X-Homeostat-Samples-Written', String(written))
    c.header('X-Homeostat-Samples-Dropped', String(dropped))
    return c.body(null, 204)
  }
}
