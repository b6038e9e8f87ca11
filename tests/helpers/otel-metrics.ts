/**
 * The real OpenTelemetry JS SDK as a client of `POST /v1/metrics`: instruments of the SDK's
 * MeterProvider, collected by its reader and sent by the SDK's own OTLP/HTTP metric exporters
 * (protobuf or JSON, gzip or not, delta or cumulative temporality) to a server on loopback. A test
 * collects and exports when it wants (no export interval runs), and gets the export's result.
 */
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter as JsonExporter,
} from '@opentelemetry/exporter-metrics-otlp-http'
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics'

export type MetricsClientOptions = {
  url: string
  key?: string
  encoding: 'protobuf' | 'json'
  temporality: 'delta' | 'cumulative'
  gzip?: boolean
  resource?: Record<string, string>
  /** Instruments recorded as exponential histograms. */
  exponential?: string[]
}

export function metricsClient(o: MetricsClientOptions) {
  const config = {
    url: `${o.url}/v1/metrics`,
    headers: (o.key ? { Authorization: `Bearer ${o.key}` } : {}) as Record<string, string>,
    temporalityPreference:
      o.temporality === 'delta' ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE,
    ...(o.gzip ? { compression: 'gzip' as never } : {}),
  }
  const exporter = o.encoding === 'protobuf' ? new ProtoExporter(config) : new JsonExporter(config)
  // An interval no test reaches: exports happen only through `flush`.
  const reader = new PeriodicExportingMetricReader({ exporter: exporter as never, exportIntervalMillis: 3_600_000 })
  const views: ViewOptions[] = (o.exponential ?? []).map((instrumentName) => ({
    instrumentName,
    aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
  }))
  const provider = new MeterProvider({
    resource: resourceFromAttributes(o.resource ?? { 'service.name': 'agent-team' }),
    readers: [reader],
    views,
  })
  const meter = provider.getMeter('homeostat-tests', '1.0.0')
  /** Collects what the instruments hold and exports it; resolves to the export result (code 0 = success). */
  async function flush() {
    const { resourceMetrics } = await reader.collect()
    return new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(resourceMetrics as never, resolve))
  }
  // Not the provider's shutdown: it exports once more, which a test did not ask for. The reader's
  // interval timer is unref'd and never fires within a test.
  const shutdown = () => exporter.shutdown()
  return { meter, flush, shutdown }
}
