/**
 * Reading an OTLP/HTTP trace export (docs/runs.md#opentelemetry): the body (gzip or not, protobuf or
 * JSON) becomes a list of spans in one shape. A JSON span goes through the valibot schema of a span
 * in OTLP/JSON form; a protobuf body is read straight into spans (wire-spans.ts), checked by hand
 * for what protobuf cannot guarantee, and a span that fails is handed to the same schema, so a span
 * is usable or not, and named, by the same rules whichever way it came
 * (docs/adr/0014-otlp-trace-fast-path.md). A body that cannot be decoded, or whose envelope is not
 * a trace export, is a 400; a span that is not usable is counted as rejected (the answer's
 * partialSuccess), and the others are kept.
 */
import * as v from 'valibot'
import { badRequest } from '../../../lib/errors.ts'
import { decodeProtobuf, type Format, parseJsonBody } from '../../../lib/otlp/body.ts'
import { type Attrs, flatten, KeyValues, list } from '../../../lib/otlp/common.ts'
import { issuesToDetails } from '../../../lib/validate.ts'
import { ExportTraceServiceResponse } from './proto.ts'
import { type OtlpSpan, readTraceExport } from './wire-spans.ts'

export type { Format } from '../../../lib/otlp/body.ts'
export { bodyBytes, formatOf, MAX_EXPANSION } from '../../../lib/otlp/body.ts'
export type { Attrs, Scalar } from '../../../lib/otlp/common.ts'
export type { OtlpSpan } from './wire-spans.ts'

export type Decoded = { format: Format; spans: OtlpSpan[]; rejected: number; problems: string[] }

// The span in its OTLP/JSON form. Unknown fields are ignored (the OTLP/JSON rule for receivers).
const hex = (length: number) =>
  v.pipe(
    v.string('must be a string'),
    v.regex(new RegExp(`^[0-9a-fA-F]{${length}}$`), `must be ${length} hex characters`),
    v.check((s) => /[1-9a-fA-F]/.test(s), 'must not be all zeros'),
  )
const Nanos = v.pipe(
  v.union([v.string(), v.number()], 'must be a number of nanoseconds'),
  v.transform(Number),
  v.check((n) => Number.isFinite(n) && n > 0, 'must be a positive number of nanoseconds'),
)
const JsonSpan = v.pipe(
  v.looseObject({
    traceId: hex(32),
    spanId: hex(16),
    parentSpanId: v.optional(v.union([v.literal(''), hex(16)], 'must be empty or 16 hex characters'), ''),
    name: v.optional(v.string('must be a string'), ''),
    startTimeUnixNano: Nanos,
    endTimeUnixNano: Nanos,
    attributes: KeyValues,
    events: v.optional(
      v.array(v.looseObject({ name: v.optional(v.string(), ''), attributes: KeyValues }), 'must be a list'),
      [],
    ),
    status: v.optional(
      v.looseObject({
        code: v.optional(v.union([v.number(), v.string()]), 0),
        message: v.optional(v.string('must be a string'), ''),
      }),
      {},
    ),
  }),
  v.forward(
    v.check((s) => s.endTimeUnixNano >= s.startTimeUnixNano, 'must not be before startTimeUnixNano'),
    ['endTimeUnixNano'],
  ),
)
// The envelope: a wrong shape here is not a trace export at all (400, naming the field).
const JsonRequest = v.looseObject({
  resourceSpans: list(
    v.looseObject({
      resource: v.optional(v.looseObject({ attributes: KeyValues })),
      scopeSpans: list(v.looseObject({ spans: list(v.unknown()) })),
    }),
  ),
})

type Envelope = {
  resourceSpans: { resource?: { attributes: { key: string; value?: unknown }[] }; scopeSpans: { spans: unknown[] }[] }[]
}

const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 }

/**
 * Gathers an export's spans: `keep` takes a span already known usable (the protobuf fast path's),
 * `judge` checks one in its OTLP/JSON form with the span schema, counting a refused one and naming
 * its first problems (span path and field). `read`: attributes and events already flattened.
 */
function collector(format: Format) {
  const spans: OtlpSpan[] = []
  const problems: string[] = []
  let rejected = 0
  const judge = (raw: unknown, at: string, resource: Attrs, read?: Pick<OtlpSpan, 'attributes' | 'events'>) => {
    const r = v.safeParse(JsonSpan, raw)
    if (!r.success) {
      rejected++
      if (problems.length < 10) {
        const d = v.getDotPath(r.issues[0])
        problems.push(d ? `${at}.${d} ${r.issues[0].message}` : `${at} is not a span`)
      }
      return
    }
    const s = r.output
    const code = typeof s.status.code === 'number' ? s.status.code : (STATUS_CODES[s.status.code] ?? 0)
    spans.push({
      traceId: s.traceId.toLowerCase(),
      spanId: s.spanId.toLowerCase(),
      parentSpanId: s.parentSpanId.toLowerCase(),
      name: s.name,
      startedAt: Math.floor(s.startTimeUnixNano / 1e6),
      endedAt: Math.floor(s.endTimeUnixNano / 1e6),
      attributes: read?.attributes ?? flatten(s.attributes),
      resource,
      events: read?.events ?? s.events.map((e) => ({ name: e.name, attributes: flatten(e.attributes) })),
      statusCode: code,
      statusMessage: s.status.message,
    })
  }
  return {
    keep: (span: OtlpSpan) => void spans.push(span),
    judge,
    result: (): Decoded => ({ format, spans, rejected, problems }),
  }
}

/** Decodes an export request of either encoding into usable spans and the count of the others. */
export function decodeExport(format: Format, bytes: Uint8Array): Decoded {
  const out = collector(format)
  if (format === 'protobuf') {
    // Straight from the wire into spans (wire-spans.ts); a body it cannot read is a 400 as before.
    decodeProtobuf(bytes, 'ExportTraceServiceRequest', (b) => readTraceExport(b, out))
    return out.result()
  }
  const r = v.safeParse(JsonRequest, parseJsonBody(bytes))
  if (!r.success) throw badRequest('The body is not an OTLP trace export', issuesToDetails(r.issues))
  const envelope = r.output as Envelope
  envelope.resourceSpans.forEach((rs, i) => {
    const resource = flatten(rs.resource?.attributes)
    rs.scopeSpans.forEach((ss, j) => {
      ss.spans.forEach((raw, k) => {
        out.judge(raw, `resourceSpans.${i}.scopeSpans.${j}.spans.${k}`, resource)
      })
    })
  })
  return out.result()
}

/** The ExportTraceServiceResponse, in the request's encoding; partialSuccess only when spans were rejected. */
export function exportResponse(format: Format, rejected: number, message: string) {
  const partialSuccess = rejected ? { rejectedSpans: rejected, errorMessage: message } : undefined
  if (format === 'json')
    return JSON.stringify(
      partialSuccess ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: message } } : {},
    )
  return ExportTraceServiceResponse.encode(partialSuccess ? { partialSuccess } : {}).finish()
}
