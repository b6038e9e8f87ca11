/**
 * The real OpenTelemetry JS SDK as a client of `POST /v1/traces`: spans are made by the SDK's tracer
 * (kept by its in-memory exporter, so a test can send the same spans several times, split or out of
 * order), and sent by the SDK's own OTLP/HTTP exporters, protobuf or JSON, to a server on loopback.
 */
import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api'
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'

export type Encoding = 'protobuf' | 'json'
type Attrs = Record<string, string | number | boolean>

/** A tracer whose ended spans are kept, and the spans it made so far. */
export function recordingTracer(resource: Attrs = { 'service.name': 'agent-team' }) {
  const memory = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  })
  const tracer = provider.getTracer('homeostat-tests', '1.0.0')
  /** Starts a span under `parent` (a root span without one). */
  const start = (name: string, attributes: Attrs, parent?: Span) =>
    tracer.startSpan(name, { attributes }, parent ? trace.setSpan(context.active(), parent) : undefined)
  return { start, spans: () => memory.getFinishedSpans(), shutdown: () => provider.shutdown() }
}

/** Ends a span as failed the way instrumentations do: an exception event, error.type, status ERROR. */
export function fail(span: Span, error: Error, type = error.name) {
  span.recordException(error)
  span.setAttribute('error.type', type)
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
  span.end()
}

/** Sends spans with the SDK's exporter; resolves to the export result (code 0 = success). */
export function exportSpans(
  url: string,
  key: string | undefined,
  spans: ReadableSpan[],
  opts: { encoding: Encoding; gzip?: boolean },
) {
  const config = {
    url: `${url}/v1/traces`,
    headers: (key ? { Authorization: `Bearer ${key}` } : {}) as Record<string, string>,
    ...(opts.gzip ? { compression: 'gzip' as never } : {}),
  }
  const exporter = opts.encoding === 'protobuf' ? new ProtoExporter(config) : new JsonExporter(config)
  return new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve)).finally(() =>
    exporter.shutdown(),
  )
}
