/**
 * OTLP/HTTP protobuf messages, decoded and encoded by protobufjs (a kept library, the one remote
 * write uses). The fields below are those of the official definitions, opentelemetry-proto v1.11.0:
 * opentelemetry/proto/collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
 * with their field numbers and types (common/v1 and resource/v1 are shared: app/lib/otlp/common.ts). Fields
 * the intake does not read (trace_state, flags, links, dropped counts, schema urls, entity refs) are
 * left out: protobufjs skips unknown fields, so a message carrying them still decodes.
 */
import protobuf from 'protobufjs/light.js'
import { commonMessages } from '../../../lib/otlp/common.ts'

const root = protobuf.Root.fromJSON({
  nested: {
    otlp: {
      nested: {
        // collector/trace/v1
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
        ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
        ExportTracePartialSuccess: {
          fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
        // trace/v1
        ResourceSpans: {
          fields: {
            resource: { type: 'Resource', id: 1 },
            scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
          },
        },
        ScopeSpans: {
          fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } },
        },
        Span: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            parentSpanId: { type: 'bytes', id: 4 },
            name: { type: 'string', id: 5 },
            kind: { type: 'int32', id: 6 },
            startTimeUnixNano: { type: 'fixed64', id: 7 },
            endTimeUnixNano: { type: 'fixed64', id: 8 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
            events: { rule: 'repeated', type: 'Event', id: 11 },
            status: { type: 'Status', id: 15 },
          },
        },
        Event: {
          fields: {
            timeUnixNano: { type: 'fixed64', id: 1 },
            name: { type: 'string', id: 2 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
          },
        },
        Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
        ...commonMessages,
      },
    },
  },
})

export const ExportTraceServiceRequest = root.lookupType('otlp.ExportTraceServiceRequest')
export const ExportTraceServiceResponse = root.lookupType('otlp.ExportTraceServiceResponse')
