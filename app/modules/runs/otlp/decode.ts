/**
 * Reading an OTLP/HTTP trace export (docs/runs.md#opentelemetry): the body (gzip or not, protobuf or
 * JSON) becomes a list of spans in one shape. Both encodings go through the same valibot schema of a
 * span in OTLP/JSON form (protobuf messages are first written in that form: hex ids, nanoseconds as
 * strings), so a span is usable or not by the same rules whichever way it came. A body that cannot
 * be decoded, or whose envelope is not a trace export, is a 400; a span that is not usable is
 * counted as rejected (the answer's partialSuccess), and the others are kept.
 */
import { Buffer } from 'node:buffer'
import * as v from 'valibot'
import { AppError, badRequest } from '../../../lib/errors.ts'
import { issuesToDetails } from '../../../lib/validate.ts'
import { ExportTraceServiceRequest, ExportTraceServiceResponse } from './proto.ts'

export type Format = 'protobuf' | 'json'
export type Scalar = string | number | boolean
export type Attrs = Record<string, Scalar>

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

/** How much larger than the (already limited) body a gzip body may inflate to. */
export const MAX_EXPANSION = 8

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
const KeyValue = v.looseObject({ key: v.string('must be a string'), value: v.optional(v.unknown()) })
const KeyValues = v.optional(v.array(KeyValue, 'must be a list of {key, value}'), [])
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
const list = (item: v.GenericSchema) => v.optional(v.array(item, 'must be a list'), [])
const JsonRequest = v.looseObject({
  resourceSpans: list(
    v.looseObject({
      resource: v.optional(v.looseObject({ attributes: KeyValues })),
      scopeSpans: list(v.looseObject({ spans: list(v.unknown()) })),
    }),
  ),
})

/** An attribute value as a scalar: arrays and maps become their JSON text (the classifier reads text). */
function scalar(value: unknown): Scalar | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const a = value as Record<string, unknown>
  if (typeof a.stringValue === 'string') return a.stringValue
  if (typeof a.boolValue === 'boolean') return a.boolValue
  if (a.intValue !== undefined) return Number(a.intValue)
  if (a.doubleValue !== undefined) return Number(a.doubleValue)
  if (typeof a.bytesValue === 'string') return a.bytesValue
  if (a.arrayValue || a.kvlistValue) return JSON.stringify(plain(a))
  return undefined
}
function plain(value: Record<string, unknown>): unknown {
  const values = (x: unknown) => ((x as { values?: unknown[] } | undefined)?.values ?? []) as Record<string, unknown>[]
  if (value.arrayValue) return values(value.arrayValue).map(plain)
  if (value.kvlistValue)
    return Object.fromEntries(values(value.kvlistValue).map((kv) => [kv.key, plain((kv.value ?? {}) as never)]))
  return scalar(value) ?? null
}
function flatten(kvs: { key: string; value?: unknown }[]): Attrs {
  const out: Attrs = {}
  for (const kv of kvs) {
    const s = scalar(kv.value)
    if (s !== undefined) out[kv.key] = s
  }
  return out
}

/** Long (fixed64/int64 from protobufjs) as a decimal string, exact. */
const longText = (x: unknown) => (x == null ? undefined : String(x))
const toHex = (b: Uint8Array | undefined) => (b?.length ? Buffer.from(b).toString('hex') : '')

type ProtoValue = Record<string, unknown> & { value?: string }
/** A decoded protobuf AnyValue in its OTLP/JSON form (the oneof's field, ints as strings, bytes as base64). */
function anyJson(a: ProtoValue | null | undefined): unknown {
  if (!a?.value) return {}
  const field = a.value
  const x = a[field]
  if (field === 'intValue') return { intValue: longText(x) }
  if (field === 'bytesValue') return { bytesValue: Buffer.from(x as Uint8Array).toString('base64') }
  if (field === 'arrayValue')
    return { arrayValue: { values: ((x as { values?: ProtoValue[] }).values ?? []).map(anyJson) } }
  if (field === 'kvlistValue') return { kvlistValue: { values: kvJson((x as { values?: ProtoKv[] }).values) } }
  return { [field]: x }
}
type ProtoKv = { key: string; value?: ProtoValue | null }
const kvJson = (kvs: ProtoKv[] | undefined) => (kvs ?? []).map((kv) => ({ key: kv.key, value: anyJson(kv.value) }))

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
    const resource = flatten(rs.resource?.attributes ?? [])
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

/** The media type of an OTLP/HTTP request, or the 415 that names what came instead. */
export function formatOf(contentType: string | undefined): Format {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (media === 'application/x-protobuf') return 'protobuf'
  if (media === 'application/json') return 'json'
  throw new AppError(415, 'unsupported_media_type', 'Content-Type must be application/x-protobuf or application/json', [
    { field: 'Content-Type', message: media || 'missing' },
  ])
}

/** The body, inflated when gzip, at most `maxBytes` once inflated (a small body must not become gigabytes). */
export async function bodyBytes(body: ArrayBuffer, encoding: string | undefined, maxBytes: number) {
  const enc = (encoding ?? 'identity').trim().toLowerCase()
  if (enc === 'identity' || enc === '') return new Uint8Array(body)
  if (enc !== 'gzip')
    throw new AppError(415, 'unsupported_media_type', 'Content-Encoding must be gzip or none', [
      { field: 'Content-Encoding', message: enc },
    ])
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    const reader = new Blob([body]).stream().pipeThrough(new DecompressionStream('gzip')).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel()
        throw new AppError(413, 'payload_too_large', `The body inflates to more than ${maxBytes} bytes`, [
          { field: '(body)', message: `at most ${maxBytes} bytes once decompressed` },
        ])
      }
      chunks.push(value)
    }
  } catch (e) {
    if (e instanceof AppError) throw e
    throw new AppError(400, 'invalid_gzip', 'The body is not valid gzip', [{ field: '(body)', message: 'not gzip' }])
  }
  return Buffer.concat(chunks)
}

/** Decodes an export request of either encoding into usable spans and the count of the others. */
export function decodeExport(format: Format, bytes: Uint8Array): Decoded {
  if (format === 'protobuf') {
    let message: { resourceSpans?: { resource?: { attributes?: ProtoKv[] }; scopeSpans?: { spans?: ProtoSpan[] }[] }[] }
    try {
      message = ExportTraceServiceRequest.decode(bytes) as never
    } catch (e) {
      throw new AppError(400, 'invalid_protobuf', 'The body is not an OTLP ExportTraceServiceRequest', [
        { field: '(body)', message: String((e as Error).message).slice(0, 200) },
      ])
    }
    return collect(format, {
      resourceSpans: (message.resourceSpans ?? []).map((rs) => ({
        resource: { attributes: kvJson(rs.resource?.attributes) },
        scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({ spans: (ss.spans ?? []).map(spanJson) })),
      })),
    })
  }
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new AppError(400, 'invalid_json', 'The body is not valid JSON', [
      { field: '(body)', message: 'could not be parsed' },
    ])
  }
  const r = v.safeParse(JsonRequest, body)
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
