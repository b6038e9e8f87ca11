import { type Context, Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { bodyBytes, formatOf, MAX_EXPANSION } from '../../../lib/otlp/body.ts'
import { describe } from '../../../lib/route-meta.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { decodeMetricsExport, metricsResponse } from './decode.ts'
import type { OtlpMetrics } from './receiver.ts'

/**
 * `POST /v1/metrics`: an OTLP/HTTP metrics receiver (docs/opentelemetry.md). As the OTLP
 * specification asks: 200 with an ExportMetricsServiceResponse in the request's encoding, with
 * `partialSuccess` (rejected data points and why) when some points were not usable; 400 for a body
 * that cannot be decoded (or a series limit, nothing written), 415 for another media type or
 * encoding, 413 above the ingest body limit. OTLP's own path, beside /v1/traces.
 */
export function otlpMetricsRoutes(deps: ModuleDeps & { otlpMetrics: OtlpMetrics }) {
  const { config, db, otlpMetrics } = deps
  const app = new Hono<AppEnv>()

  app.post(
    '/v1/metrics',
    access('ingest'),
    describe(
      'OTLP/HTTP metrics export (protobuf or JSON, gzip): gauges, sums, histograms as series; GenAI client metrics as llm_*',
      ['metrics'],
    ),
    async (c: Context<AppEnv>) => {
      const format = formatOf(c.req.header('content-type'))
      const bytes = await bodyBytes(
        await c.req.arrayBuffer(),
        c.req.header('content-encoding'),
        config.INGEST_BODY_LIMIT_BYTES * MAX_EXPANSION,
      )
      const result = await otlpMetrics.ingest(decodeMetricsExport(format, bytes))
      const message = result.rejected ? `${result.rejected} data point(s) rejected: ${result.problems.join('; ')}` : ''
      // Exporters' writes are telemetry, as remote write's; a person's export is audited.
      if (c.get('principal')?.kind === 'session')
        await audit(db, c, { action: 'metrics.otlp_export', target: 'metrics', summary: `${result.written} points` })
      const body = metricsResponse(format, result.rejected, message)
      return typeof body === 'string'
        ? c.body(body, 200, { 'Content-Type': 'application/json' })
        : c.body(body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/x-protobuf' })
    },
  )
  return app
}
