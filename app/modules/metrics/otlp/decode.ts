/**
 * Reading an OTLP/HTTP metrics export (docs/opentelemetry.md): both encodings become the OTLP/JSON
 * form (protobuf through protobufjs' toObject), then each data point is judged alone by valibot: a
 * point that is not usable is counted as rejected (the answer's partialSuccess, its first problems
 * naming the point's path and field) and the others are kept. A body whose envelope is not a metrics
 * export is a 400 naming the field.
 */
import * as v from 'valibot'
import { badRequest } from '../../../lib/errors.ts'
import { decodeProtobuf, type Format, parseJsonBody } from '../../../lib/otlp/body.ts'
import { type Attrs, flatten, KeyValues, list } from '../../../lib/otlp/common.ts'
import { ExportMetricsServiceRequest, ExportMetricsServiceResponse } from './proto.ts'

export type Temporality = 'delta' | 'cumulative'
type Base = {
  /** The metric's name as sent (dots and all). */
  metric: string
  unit: string
  attributes: Attrs
  resource: Attrs
  scope: { name: string; version: string }
  /** Milliseconds: the point's time, and the start of its interval (0 when not sent). */
  ts: number
  start: number
}
export type Buckets = { offset: number; counts: number[] }
export type OtlpPoint = Base &
  (
    | { type: 'gauge'; value: number }
    | { type: 'sum'; value: number; temporality: Temporality; monotonic: boolean }
    | { type: 'histogram'; temporality: Temporality; count: number; sum: number; bounds: number[]; counts: number[] }
    | {
        type: 'exponential'
        temporality: Temporality
        count: number
        sum: number
        scale: number
        zeroCount: number
        positive: Buckets
        negative: Buckets
      }
    | { type: 'summary'; count: number; sum: number; quantiles: { quantile: number; value: number }[] }
  )
export type Decoded = { format: Format; points: OtlpPoint[]; rejected: number; problems: string[] }

const Count = v.pipe(
  v.union([v.string(), v.number()], 'must be a count'),
  v.transform(Number),
  v.check((n) => Number.isSafeInteger(n) && n >= 0, 'must be a count (a whole number from 0)'),
)
const Finite = v.pipe(
  v.union([v.number(), v.string()], 'must be a number'),
  v.transform(Number),
  v.finite('must be a finite number'),
)
const Nanos = v.pipe(
  v.union([v.string(), v.number()], 'must be a number of nanoseconds'),
  v.transform(Number),
  v.check((n) => Number.isFinite(n) && n >= 0, 'must be a number of nanoseconds'),
)
const common = {
  attributes: KeyValues,
  startTimeUnixNano: v.optional(Nanos, 0),
  timeUnixNano: v.pipe(
    Nanos,
    v.check((n) => n > 0, 'is required'),
  ),
}
const NumberPoint = v.pipe(
  v.looseObject({ ...common, asDouble: v.optional(Finite), asInt: v.optional(Finite) }),
  v.check((p) => p.asDouble !== undefined || p.asInt !== undefined, 'must have asDouble or asInt'),
)
const HistogramPoint = v.pipe(
  v.looseObject({
    ...common,
    count: Count,
    sum: v.optional(Finite, 0),
    bucketCounts: v.optional(v.array(Count, 'must be a list of counts'), []),
    explicitBounds: v.optional(v.array(Finite, 'must be a list of numbers'), []),
  }),
  v.forward(
    v.check(
      (p) => p.bucketCounts.length === 0 || p.bucketCounts.length === p.explicitBounds.length + 1,
      'must have one more entry than explicitBounds',
    ),
    ['bucketCounts'],
  ),
)
const ExpBuckets = v.optional(
  v.looseObject({
    offset: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer')), 0),
    bucketCounts: v.optional(v.array(Count, 'must be a list of counts'), []),
  }),
  {},
)
const ExpPoint = v.looseObject({
  ...common,
  count: Count,
  sum: v.optional(Finite, 0),
  scale: v.optional(v.pipe(v.number('must be a number'), v.integer(), v.minValue(-10), v.maxValue(20)), 0),
  zeroCount: v.optional(Count, 0),
  positive: ExpBuckets,
  negative: ExpBuckets,
})
const SummaryPoint = v.looseObject({
  ...common,
  count: Count,
  sum: v.optional(Finite, 0),
  quantileValues: v.optional(
    v.array(v.looseObject({ quantile: v.optional(Finite, 0), value: v.optional(Finite, 0) }), 'must be a list'),
    [],
  ),
})
const TEMPORALITY: Record<string, Temporality> = {
  1: 'delta',
  2: 'cumulative',
  AGGREGATION_TEMPORALITY_DELTA: 'delta',
  AGGREGATION_TEMPORALITY_CUMULATIVE: 'cumulative',
}

// The envelope: a wrong shape here is not a metrics export at all (400, naming the field).
const Data = v.optional(v.looseObject({ dataPoints: list(v.unknown()) }))
const JsonRequest = v.looseObject({
  resourceMetrics: list(
    v.looseObject({
      resource: v.optional(v.looseObject({ attributes: KeyValues })),
      scopeMetrics: list(
        v.looseObject({
          scope: v.optional(
            v.looseObject({ name: v.optional(v.string(), ''), version: v.optional(v.string(), '') }),
            {},
          ),
          metrics: list(
            v.looseObject({
              name: v.string('must be a string'),
              unit: v.optional(v.string('must be a string'), ''),
              gauge: Data,
              sum: Data,
              histogram: Data,
              exponentialHistogram: Data,
              summary: Data,
            }),
          ),
        }),
      ),
    }),
  ),
})
type Envelope = v.InferOutput<typeof JsonRequest>
type Metric = Envelope['resourceMetrics'][number]['scopeMetrics'][number]['metrics'][number]

const ms = (nanos: number) => Math.floor(nanos / 1e6)
const temporalityOf = (data: unknown) =>
  TEMPORALITY[String((data as { aggregationTemporality?: unknown }).aggregationTemporality ?? '')]

const nanos = (x: unknown) => (typeof x === 'string' || typeof x === 'number' ? Number(x) : Number.NaN)
/**
 * A number point of the usual shape, checked by hand: valibot's copy of every point and attribute
 * cost most of a large export's time. Anything unusual returns undefined and goes through the
 * schema, which accepts the same points and names the field of those it refuses.
 */
function plainNumberPoint(raw: unknown) {
  if (typeof raw !== 'object' || raw === null) return undefined
  const p = raw as Record<string, unknown>
  const ts = nanos(p.timeUnixNano)
  const start = p.startTimeUnixNano === undefined ? 0 : nanos(p.startTimeUnixNano)
  if (!(ts > 0 && Number.isFinite(ts) && start >= 0 && Number.isFinite(start))) return undefined
  const value = nanos(p.asDouble !== undefined ? p.asDouble : p.asInt)
  if (!Number.isFinite(value)) return undefined
  const attributes = p.attributes ?? []
  if (!Array.isArray(attributes)) return undefined
  for (const kv of attributes)
    if (typeof kv !== 'object' || kv === null || typeof (kv as { key?: unknown }).key !== 'string') return undefined
  return { attributes: attributes as { key: string; value?: unknown }[], ts, start, value }
}

/** One metric's points, each judged alone; `reject` gets the problem of each unusable one. */
function pointsOf(m: Metric, base: Omit<Base, 'attributes' | 'ts' | 'start'>, at: string, out: Decoded) {
  const reject = (message: string) => {
    out.rejected++
    if (out.problems.length < 10) out.problems.push(`${at}: ${message}`)
  }
  const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary
  if (!data) return
  const temporality = temporalityOf(data)
  if (!m.gauge && !m.summary && !temporality) {
    reject(`${m.name}: aggregationTemporality must be 1 (delta) or 2 (cumulative); ${data.dataPoints.length} points`)
    out.rejected += data.dataPoints.length - 1
    return
  }
  const schema = m.histogram
    ? HistogramPoint
    : m.exponentialHistogram
      ? ExpPoint
      : m.summary
        ? SummaryPoint
        : NumberPoint
  const monotonic = Boolean((m.sum as { isMonotonic?: unknown } | undefined)?.isMonotonic)
  data.dataPoints.forEach((raw, k) => {
    const plain = m.gauge || m.sum ? plainNumberPoint(raw) : undefined
    if (plain) {
      const b = { ...base, attributes: flatten(plain.attributes), ts: ms(plain.ts), start: ms(plain.start) }
      if (m.gauge) out.points.push({ ...b, type: 'gauge', value: plain.value })
      else out.points.push({ ...b, type: 'sum', value: plain.value, temporality: temporality!, monotonic })
      return
    }
    const r = v.safeParse(schema, raw)
    if (!r.success) {
      const d = v.getDotPath(r.issues[0])
      reject(`${m.name} dataPoints.${k}${d ? `.${d}` : ''} ${r.issues[0].message}`)
      return
    }
    const p = r.output as v.InferOutput<typeof HistogramPoint> & Record<string, unknown>
    const b = { ...base, attributes: flatten(p.attributes), ts: ms(p.timeUnixNano), start: ms(p.startTimeUnixNano) }
    if (m.gauge || m.sum) {
      const value = (p.asDouble ?? p.asInt) as number
      if (m.gauge) out.points.push({ ...b, type: 'gauge', value })
      else out.points.push({ ...b, type: 'sum', value, temporality: temporality!, monotonic })
    } else if (m.histogram)
      out.points.push({
        ...b,
        type: 'histogram',
        temporality: temporality!,
        count: p.count,
        sum: p.sum,
        bounds: p.explicitBounds,
        counts: p.bucketCounts,
      })
    else if (m.exponentialHistogram) {
      const e = r.output as v.InferOutput<typeof ExpPoint>
      const buckets = (x: typeof e.positive) => ({ offset: x.offset, counts: x.bucketCounts })
      out.points.push({
        ...b,
        type: 'exponential',
        temporality: temporality!,
        count: e.count,
        sum: e.sum,
        scale: e.scale,
        zeroCount: e.zeroCount,
        positive: buckets(e.positive),
        negative: buckets(e.negative),
      })
    } else {
      const s = r.output as v.InferOutput<typeof SummaryPoint>
      out.points.push({ ...b, type: 'summary', count: s.count, sum: s.sum, quantiles: s.quantileValues })
    }
  })
}

function collect(format: Format, envelope: Envelope): Decoded {
  const out: Decoded = { format, points: [], rejected: 0, problems: [] }
  envelope.resourceMetrics.forEach((rm, i) => {
    const resource = flatten(rm.resource?.attributes)
    rm.scopeMetrics.forEach((sm, j) => {
      const scope = { name: sm.scope.name, version: sm.scope.version }
      sm.metrics.forEach((m, k) => {
        const at = `resourceMetrics.${i}.scopeMetrics.${j}.metrics.${k}`
        pointsOf(m, { metric: m.name, unit: m.unit, resource, scope }, at, out)
      })
    })
  })
  return out
}

/** Decodes an export request of either encoding into usable points and the count of the others. */
export function decodeMetricsExport(format: Format, bytes: Uint8Array): Decoded {
  const body =
    format === 'protobuf'
      ? ExportMetricsServiceRequest.toObject(
          decodeProtobuf(bytes, 'ExportMetricsServiceRequest', (b) => ExportMetricsServiceRequest.decode(b)),
          { longs: String, bytes: String },
        )
      : parseJsonBody(bytes)
  const r = v.safeParse(JsonRequest, body)
  if (!r.success) throw badRequest('The body is not an OTLP metrics export', r.issues.slice(0, 20).map(detail))
  return collect(format, r.output)
}
const detail = (i: v.BaseIssue<unknown>) => ({ field: v.getDotPath(i) ?? '(body)', message: i.message })

/** The ExportMetricsServiceResponse, in the request's encoding; partialSuccess only when points were rejected. */
export function metricsResponse(format: Format, rejected: number, message: string) {
  if (format === 'json')
    return JSON.stringify(
      rejected ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } } : {},
    )
  const partialSuccess = rejected ? { rejectedDataPoints: rejected, errorMessage: message } : undefined
  return ExportMetricsServiceResponse.encode(partialSuccess ? { partialSuccess } : {}).finish()
}
