import { Hono, type Context } from 'hono'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { bodyBytes, decodeExport, exportResponse, formatOf, MAX_EXPANSION } from './decode.ts'
import type { OtlpIntake } from './intake.ts'

/**
 * `POST /v1/traces`: an OTLP/HTTP trace receiver (docs/runs.md#opentelemetry). It answers as the
 * OTLP specification asks: 200 with an ExportTraceServiceResponse in the request's encoding, with
 * `partialSuccess` (rejected spans and why) when some spans were not usable; 400 for a body that
 * cannot be decoded, 415 for another media type or encoding, 413 above the ingest body limit. The
 * path is OTLP's own (an exporter given the base URL appends it), not under /api/v1.
 */
export function otlpRoutes(deps: ModuleDeps & { otlpIntake: OtlpIntake }) {
  const { config, db, otlpIntake } = deps
  const app = new Hono<AppEnv>()

  app.post(
    '/v1/traces',
    access('ingest'),
    describe(
      'OTLP/HTTP trace export (protobuf or JSON, gzip): GenAI agent and tool spans become runs and tasks, model calls llm_* metrics',
      ['runs'],
    ),
    async (c: Context<AppEnv>) => {
      const format = formatOf(c.req.header('content-type'))
      const bytes = await bodyBytes(
        await c.req.arrayBuffer(),
        c.req.header('content-encoding'),
        config.INGEST_BODY_LIMIT_BYTES * MAX_EXPANSION,
      )
      const decoded = decodeExport(format, bytes)
      const result = await otlpIntake.ingest(decoded.spans)
      const rejected = decoded.rejected + result.rejected
      const problems = [...decoded.problems, ...result.problems].slice(0, 10)
      const message = rejected ? `${rejected} span(s) rejected: ${problems.join('; ')}` : ''
      // Agents' exports are their runs' own record (as the runs API's key writes); a person's is audited.
      if (c.get('principal')?.kind === 'session')
        await audit(db, c, { action: 'runs.otlp_export', target: 'runs', summary: `${result.accepted} spans` })
      const body = exportResponse(format, rejected, message)
      return typeof body === 'string'
        ? c.body(body, 200, { 'Content-Type': 'application/json' })
        : c.body(body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/x-protobuf' })
    },
  )
  return app
}
