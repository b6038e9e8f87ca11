/**
 * The protobuf fast path of the trace intake (docs/adr/0014-otlp-trace-fast-path.md): an
 * ExportTraceServiceRequest is read straight into the intake's spans (app/lib/otlp/wire.ts), with
 * no message objects and no OTLP/JSON form in between. What protobuf already guarantees (strings,
 * numbers, lists) is not checked again; what it cannot (id lengths, all-zero ids, times) is checked
 * by hand, and a span that fails is handed to the JSON path's schema (`judge`), so a refused span is
 * named exactly as before. Field numbers as in proto.ts (opentelemetry-proto v1.11.0).
 */
import type { Attrs } from '../../../lib/otlp/common.ts'
import {
  attribute,
  bytes,
  done,
  end,
  enter,
  FIXED64,
  fixed64,
  hex,
  LEN,
  string,
  skip,
  uint32,
  VARINT,
  type Wire,
  wireOf,
} from '../../../lib/otlp/wire.ts'

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

/** A span as read, before the checks protobuf cannot make. */
type RawSpan = {
  traceId: Uint8Array
  spanId: Uint8Array
  parentSpanId: Uint8Array
  name: string
  start: number
  end: number
  attributes: Attrs
  events: { name: string; attributes: Attrs }[]
  code: number
  message: string
}

/** What the caller does with each span read: keep it, or judge the one that failed the checks (its JSON form). */
export type SpanSink = {
  keep: (span: OtlpSpan) => void
  /** `read` carries the attributes and events as read, used when the schema finds nothing wrong after all. */
  judge: (
    json: Record<string, unknown>,
    at: string,
    resource: Attrs,
    read: Pick<OtlpSpan, 'attributes' | 'events'>,
  ) => void
}

const EMPTY = new Uint8Array(0)
const tagOf = (field: number, type: number) => (field << 3) | type

const nonZero = (b: Uint8Array) => {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return true
  return false
}

function readEvent(w: Wire, to: number, depth: number) {
  enter(depth)
  let name = ''
  const attributes: Attrs = {}
  while (w.pos < to) {
    const tag = uint32(w)
    if (tag === tagOf(2, LEN)) name = string(w)
    else if (tag === tagOf(3, LEN)) attribute(w, end(w), attributes, depth + 1)
    else skip(w, tag & 7, depth)
  }
  done(w, to)
  return { name, attributes }
}

function readStatus(w: Wire, to: number, depth: number, into: RawSpan) {
  enter(depth)
  while (w.pos < to) {
    const tag = uint32(w)
    if (tag === tagOf(2, LEN)) into.message = string(w)
    else if (tag === tagOf(3, VARINT)) into.code = uint32(w) | 0
    else skip(w, tag & 7, depth)
  }
  done(w, to)
}

function readSpan(w: Wire, to: number, depth: number): RawSpan {
  enter(depth)
  const s: RawSpan = {
    traceId: EMPTY,
    spanId: EMPTY,
    parentSpanId: EMPTY,
    name: '',
    start: 0,
    end: 0,
    attributes: {},
    events: [],
    code: 0,
    message: '',
  }
  while (w.pos < to) {
    const tag = uint32(w)
    switch (tag) {
      case tagOf(1, LEN):
        s.traceId = bytes(w)
        break
      case tagOf(2, LEN):
        s.spanId = bytes(w)
        break
      case tagOf(4, LEN):
        s.parentSpanId = bytes(w)
        break
      case tagOf(5, LEN):
        s.name = string(w)
        break
      case tagOf(7, FIXED64):
        s.start = fixed64(w)
        break
      case tagOf(8, FIXED64):
        s.end = fixed64(w)
        break
      case tagOf(9, LEN):
        attribute(w, end(w), s.attributes, depth + 1)
        break
      case tagOf(11, LEN):
        s.events.push(readEvent(w, end(w), depth + 1))
        break
      case tagOf(15, LEN):
        readStatus(w, end(w), depth + 1, s)
        break
      default:
        skip(w, tag & 7, depth)
    }
  }
  done(w, to)
  return s
}

/** The checks of the JSON path's span schema that protobuf does not make already. */
const usable = (s: RawSpan) =>
  s.traceId.length === 16 &&
  nonZero(s.traceId) &&
  s.spanId.length === 8 &&
  nonZero(s.spanId) &&
  (s.parentSpanId.length === 0 || (s.parentSpanId.length === 8 && nonZero(s.parentSpanId))) &&
  s.start > 0 &&
  Number.isFinite(s.end) &&
  s.end >= s.start

/** The span's OTLP/JSON form, as the full decoder writes it, for the schema to name what is wrong. */
const jsonOf = (s: RawSpan) => ({
  traceId: hex(s.traceId),
  spanId: hex(s.spanId),
  parentSpanId: hex(s.parentSpanId),
  name: s.name,
  startTimeUnixNano: String(s.start),
  endTimeUnixNano: String(s.end),
  attributes: [],
  events: [],
  status: { code: s.code, message: s.message },
})

function readScopeSpans(w: Wire, to: number, at: string, resource: Attrs, sink: SpanSink) {
  enter(2)
  let k = 0
  while (w.pos < to) {
    const tag = uint32(w)
    if (tag !== tagOf(2, LEN)) {
      skip(w, tag & 7, 2)
      continue
    }
    const s = readSpan(w, end(w), 3)
    const here = `${at}.spans.${k++}`
    if (!usable(s)) {
      sink.judge(jsonOf(s), here, resource, s)
      continue
    }
    sink.keep({
      traceId: hex(s.traceId),
      spanId: hex(s.spanId),
      parentSpanId: hex(s.parentSpanId),
      name: s.name,
      startedAt: Math.floor(s.start / 1e6),
      endedAt: Math.floor(s.end / 1e6),
      attributes: s.attributes,
      resource,
      events: s.events,
      statusCode: s.code,
      statusMessage: s.message,
    })
  }
  done(w, to)
}

/**
 * Reads an ExportTraceServiceRequest, handing each span to `sink` in the order sent. A resource's
 * attributes may come after its spans on the wire: every span of it shares one record, filled as
 * it is read, so each sees all of them once the message is read.
 */
export function readTraceExport(bytesIn: Uint8Array, sink: SpanSink): void {
  const w = wireOf(bytesIn)
  let i = 0
  while (w.pos < w.buf.length) {
    const tag = uint32(w)
    if (tag !== tagOf(1, LEN)) {
      skip(w, tag & 7, 0)
      continue
    }
    const to = end(w)
    enter(1)
    const resource: Attrs = {}
    let j = 0
    while (w.pos < to) {
      const t = uint32(w)
      if (t === tagOf(1, LEN)) {
        const rTo = end(w)
        while (w.pos < rTo) {
          const rt = uint32(w)
          if (rt === tagOf(1, LEN)) attribute(w, end(w), resource, 3)
          else skip(w, rt & 7, 2)
        }
        done(w, rTo)
      } else if (t === tagOf(2, LEN)) readScopeSpans(w, end(w), `resourceSpans.${i}.scopeSpans.${j++}`, resource, sink)
      else skip(w, t & 7, 1)
    }
    done(w, to)
    i++
  }
}
