/**
 * OTLP/HTTP metrics messages for protobufjs (the kept library remote write and /v1/traces use), as in
 * opentelemetry-proto v1.11.0: collector/metrics/v1/metrics_service.proto and metrics/v1/metrics.proto,
 * with their field numbers and types; common/v1 and resource/v1 come from app/lib/otlp/common.ts.
 * Fields the receiver does not read (exemplars, flags, metadata, schema urls) are left out: protobufjs
 * skips unknown fields. A decoded request is turned into its OTLP/JSON form with `toObject` (64-bit
 * numbers as strings), so one schema (decode.ts) judges both encodings.
 */
import protobuf from 'protobufjs/light.js'
import { commonMessages } from '../../../lib/otlp/common.ts'

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id })
const times = { startTimeUnixNano: { type: 'fixed64', id: 2 }, timeUnixNano: { type: 'fixed64', id: 3 } }
const root = protobuf.Root.fromJSON({
  nested: {
    otlpm: {
      nested: {
        ExportMetricsServiceRequest: { fields: { resourceMetrics: repeated('ResourceMetrics', 1) } },
        ExportMetricsServiceResponse: { fields: { partialSuccess: { type: 'ExportMetricsPartialSuccess', id: 1 } } },
        ExportMetricsPartialSuccess: {
          fields: { rejectedDataPoints: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
        ResourceMetrics: {
          fields: { resource: { type: 'Resource', id: 1 }, scopeMetrics: repeated('ScopeMetrics', 2) },
        },
        ScopeMetrics: {
          fields: { scope: { type: 'InstrumentationScope', id: 1 }, metrics: repeated('Metric', 2) },
        },
        Metric: {
          oneofs: { data: { oneof: ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] } },
          fields: {
            name: { type: 'string', id: 1 },
            description: { type: 'string', id: 2 },
            unit: { type: 'string', id: 3 },
            gauge: { type: 'Gauge', id: 5 },
            sum: { type: 'Sum', id: 7 },
            histogram: { type: 'Histogram', id: 9 },
            exponentialHistogram: { type: 'ExponentialHistogram', id: 10 },
            summary: { type: 'Summary', id: 11 },
          },
        },
        Gauge: { fields: { dataPoints: repeated('NumberDataPoint', 1) } },
        Sum: {
          fields: {
            dataPoints: repeated('NumberDataPoint', 1),
            aggregationTemporality: { type: 'int32', id: 2 },
            isMonotonic: { type: 'bool', id: 3 },
          },
        },
        Histogram: {
          fields: { dataPoints: repeated('HistogramDataPoint', 1), aggregationTemporality: { type: 'int32', id: 2 } },
        },
        ExponentialHistogram: {
          fields: {
            dataPoints: repeated('ExponentialHistogramDataPoint', 1),
            aggregationTemporality: { type: 'int32', id: 2 },
          },
        },
        Summary: { fields: { dataPoints: repeated('SummaryDataPoint', 1) } },
        NumberDataPoint: {
          oneofs: { value: { oneof: ['asDouble', 'asInt'] } },
          fields: {
            attributes: repeated('KeyValue', 7),
            ...times,
            asDouble: { type: 'double', id: 4 },
            asInt: { type: 'sfixed64', id: 6 },
          },
        },
        HistogramDataPoint: {
          fields: {
            attributes: repeated('KeyValue', 9),
            ...times,
            count: { type: 'fixed64', id: 4 },
            sum: { type: 'double', id: 5 },
            bucketCounts: { rule: 'repeated', type: 'fixed64', id: 6, options: { packed: true } },
            explicitBounds: { rule: 'repeated', type: 'double', id: 7, options: { packed: true } },
          },
        },
        ExponentialHistogramDataPoint: {
          fields: {
            attributes: repeated('KeyValue', 1),
            ...times,
            count: { type: 'fixed64', id: 4 },
            sum: { type: 'double', id: 5 },
            scale: { type: 'sint32', id: 6 },
            zeroCount: { type: 'fixed64', id: 7 },
            positive: { type: 'Buckets', id: 8 },
            negative: { type: 'Buckets', id: 9 },
          },
        },
        Buckets: {
          fields: {
            offset: { type: 'sint32', id: 1 },
            bucketCounts: { rule: 'repeated', type: 'uint64', id: 2, options: { packed: true } },
          },
        },
        SummaryDataPoint: {
          fields: {
            attributes: repeated('KeyValue', 7),
            ...times,
            count: { type: 'fixed64', id: 4 },
            sum: { type: 'double', id: 5 },
            quantileValues: repeated('ValueAtQuantile', 6),
          },
        },
        ValueAtQuantile: { fields: { quantile: { type: 'double', id: 1 }, value: { type: 'double', id: 2 } } },
        ...commonMessages,
      },
    },
  },
})

export const ExportMetricsServiceRequest = root.lookupType('otlpm.ExportMetricsServiceRequest')
export const ExportMetricsServiceResponse = root.lookupType('otlpm.ExportMetricsServiceResponse')
