/**
 * Reading an OTLP/HTTP trace export (docs/runs.md#opentelemetry): the body (gzip or not, protobuf or
 * JSON) becomes a list of spans in one shape. Both encodings go through the same valibot schema of a
 * span in OTLP/JSON form (protobuf messages are first written in that form: hex ids, nanoseconds as
 * strings), so a span is usable or not by the same rules whichever way it came. A body that cannot
 * be decoded, or whose envelope is not a trace export, is a 400; a span that is not usable is
 * counted as rejected (the answer's partialSuccess), and the others are kept.
 */
import * as v from 'valibot'
import { badRequest } from '../../../lib/errors.ts'
import { decodeProtobuf, type Format, parseJsonBody } from '../../../lib/otlp/body.ts'
import {
  type Attrs,
  flatten,
  KeyValues,
  kvJson,
  list,
  longText,
  type ProtoKv,
  toHex,
} from '../../../lib/otlp/common.ts'
import { issuesToDetails } from '../../../lib/validate.ts'
import { ExportTraceServiceRequest, ExportTraceServiceResponse } from './proto.ts'

export type { Format } from '../../../lib/otlp/body.ts'
export { bodyBytes, formatOf, MAX_EXPANSION } from '../../../lib/otlp/body.ts'
export type { Attrs, Scalar } from '../../../lib/otlp/common.ts'

/** One usable span: ids in lower-case hex, times in ms, attributes flattened to scalars. */
export type OtlpSpan = {
  traceId: string
  spanId: string
  /** Empty for a trace's root span. */
  parentSpanId: string
  name: string
  startedAt: number
  endedAt: number
  attributes: Attrs
  /** The resource's attributes (service.name, homeostat.run.* set once for a process). */
  resource: Attrs
  events: { name: string; attributes: Attrs }[]
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number
  statusMessage: string
}

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

type ProtoSpan = {
  traceId?: Uint8Array
  spanId?: Uint8Array
  parentSpanId?: Uint8Array
  name?: string
  startTimeUnixNano?: unknown
  endTimeUnixNano?: unknown
  attributes?: ProtoKv[]
  events?: { name?: string; attributes?: ProtoKv[] }[]
  status?: { code?: number; message?: string } | null
}
/** A decoded protobuf span in its OTLP/JSON form, so the same schema judges it. */
const spanJson = (s: ProtoSpan) => ({
  traceId: toHex(s.traceId),
  spanId: toHex(s.spanId),
  parentSpanId: toHex(s.parentSpanId),
  name: s.name ?? '',
  startTimeUnixNano: longText(s.startTimeUnixNano),
  endTimeUnixNano: longText(s.endTimeUnixNano),
  attributes: kvJson(s.attributes),
  events: (s.events ?? []).map((e) => ({ name: e.name ?? '', attributes: kvJson(e.attributes) })),
  status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
})

type Envelope = {
  resourceSpans: { resource?: { attributes: { key: string; value?: unknown }[] }; scopeSpans: { spans: unknown[] }[] }[]
}

const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 }

/** The usable spans of an envelope, each judged alone; the first problems name the span and field. */
function collect(format: Format, envelope: Envelope): Decoded {
  const spans: OtlpSpan[] = []
  const problems: string[] = []
  let rejected = 0
  envelope.resourceSpans.forEach((rs, i) => {
    const resource = flatten(rs.resource?.attributes)
    rs.scopeSpans.forEach((ss, j) => {
      ss.spans.forEach((raw, k) => {
        const r = v.safeParse(JsonSpan, raw)
        if (!r.success) {
          rejected++
          if (problems.length < 10) {
            const at = `resourceSpans.${i}.scopeSpans.${j}.spans.${k}`
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
          attributes: flatten(s.attributes),
          resource,
          events: s.events.map((e) => ({ name: e.name, attributes: flatten(e.attributes) })),
          statusCode: code,
          statusMessage: s.status.message,
        })
      })
    })
  })
  return { format, spans, rejected, problems }
}

/** Decodes an export request of either encoding into usable spans and the count of the others. */
export function decodeExport(format: Format, bytes: Uint8Array): Decoded {
  if (format === 'protobuf') {
    const message = decodeProtobuf<{
      resourceSpans?: { resource?: { attributes?: ProtoKv[] }; scopeSpans?: { spans?: ProtoSpan[] }[] }[]
    }>(bytes, 'ExportTraceServiceRequest', (b) => ExportTraceServiceRequest.decode(b))
    return collect(format, {
      resourceSpans: (message.resourceSpans ?? []).map((rs) => ({
        resource: { attributes: kvJson(rs.resource?.attributes) },
        scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({ spans: (ss.spans ?? []).map(spanJson) })),
      })),
    })
  }
  const r = v.safeParse(JsonRequest, parseJsonBody(bytes))
  if (!r.success) throw badRequest('The body is not an OTLP trace export', issuesToDetails(r.issues))
  return collect(format, r.output as Envelope)
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
