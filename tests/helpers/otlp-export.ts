/**
 * One OTLP trace export written once and sent in both encodings: spans are described in their
 * OTLP/JSON form (hex ids, nanoseconds as decimal strings, attributes as AnyValue objects) and
 * `protobufOf` turns the same description into ExportTraceServiceRequest bytes (ids as bytes).
 */
import { Buffer } from 'node:buffer'
import { ExportTraceServiceRequest } from '../../app/modules/runs/otlp/proto.ts'

type Json = Record<string, unknown>
export type ExportJson = { resourceSpans: { resource?: Json; scopeSpans: { scope?: Json; spans: Json[] }[] }[] }

const ID_FIELDS = ['traceId', 'spanId', 'parentSpanId'] as const

/** The export as protobuf bytes (protobufjs, the messages of proto.ts). */
export function protobufOf(message: ExportJson): Uint8Array {
  const withBytes = {
    resourceSpans: message.resourceSpans.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...ss,
        spans: ss.spans.map((s) => {
          const out: Json = { ...s }
          for (const f of ID_FIELDS) if (typeof s[f] === 'string') out[f] = Buffer.from(s[f] as string, 'hex')
          return out
        }),
      })),
    })),
  }
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(withBytes)).finish()
}

export const jsonOf = (message: ExportJson) => new TextEncoder().encode(JSON.stringify(message))

export const str = (key: string, value: string) => ({ key, value: { stringValue: value } })
export const int = (key: string, value: number | string) => ({ key, value: { intValue: String(value) } })

const T = 1_796_630_400_000 // 2026-12-07 (ms)
export const ns = (ms: number) => String(BigInt(T + ms) * 1_000_000n + 123_456n)

/**
 * A GenAI trace using every attribute kind (string, int, large int, double, bool, bytes, array, map),
 * events, an error status, resource attributes and homeostat.run.* attributes; `id` makes its ids.
 */
export function richTrace(id: number): Json[] {
  const trace = `${id.toString(16).padStart(8, '0')}${'ab'.repeat(12)}`
  const span = (n: number) => `${id.toString(16).padStart(4, '0')}00000000${n.toString(16).padStart(4, '0')}`
  const agent = (name: string) => [str('gen_ai.operation.name', 'invoke_agent'), str('gen_ai.agent.name', name)]
  return [
    {
      traceId: trace,
      spanId: span(1),
      name: 'invoke_agent planner',
      startTimeUnixNano: ns(0),
      endTimeUnixNano: ns(5000),
      attributes: [
        ...agent('planner'),
        str('homeostat.run.goal', 'fix the failing build'),
        str('homeostat.run.label.team', 'multi'),
        { key: 'retries', value: { intValue: '9007199254740993' } },
        { key: 'ratio', value: { doubleValue: 0.25 } },
        { key: 'flag', value: { boolValue: true } },
        { key: 'blob', value: { bytesValue: Buffer.from([0, 1, 2, 250]).toString('base64') } },
        { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '7' }] } } },
        { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: false } }] } } },
        { key: 'empty' },
      ],
      status: { code: 1 },
    },
    {
      traceId: trace,
      spanId: span(2),
      parentSpanId: span(1),
      name: 'invoke_agent Code Writer',
      startTimeUnixNano: ns(100),
      endTimeUnixNano: ns(3000),
      attributes: agent('Code Writer'),
      events: [
        {
          name: 'exception',
          timeUnixNano: ns(2999),
          attributes: [str('exception.type', 'SyntaxError'), str('exception.message', 'invalid syntax ✗')],
        },
      ],
      status: { code: 2, message: 'SyntaxError: invalid syntax ✗' },
    },
    {
      traceId: trace,
      spanId: span(3),
      parentSpanId: span(2),
      name: 'POST',
      startTimeUnixNano: ns(200),
      endTimeUnixNano: ns(900),
      attributes: [str('http.request.method', 'POST')],
    },
    {
      traceId: trace,
      spanId: span(4),
      parentSpanId: span(3),
      name: 'chat gpt-4o',
      startTimeUnixNano: ns(300),
      endTimeUnixNano: ns(800),
      attributes: [
        str('gen_ai.operation.name', 'chat'),
        str('gen_ai.request.model', 'gpt-4o'),
        str('gen_ai.agent.name', 'Code Writer'),
        int('gen_ai.usage.input_tokens', 1200),
        int('gen_ai.usage.output_tokens', 340),
      ],
    },
    {
      traceId: trace,
      spanId: span(5),
      parentSpanId: span(1),
      name: 'execute_tool run_tests',
      kind: 3,
      startTimeUnixNano: ns(3100),
      endTimeUnixNano: ns(4900),
      attributes: [str('gen_ai.operation.name', 'execute_tool'), str('gen_ai.tool.name', 'run_tests')],
      status: { code: 2, message: 'FAILED tests/test_x.py::test_y - assert 1 == 2' },
    },
  ]
}

/** Spans a receiver must refuse, each for another reason (ids, times), in a trace of their own. */
export function unusableSpans(): Json[] {
  const trace = 'cd'.repeat(16)
  const ok = { traceId: trace, name: 'chat x', startTimeUnixNano: ns(0), endTimeUnixNano: ns(10) }
  return [
    { ...ok, traceId: '0'.repeat(32), spanId: '1'.repeat(16) },
    { ...ok, traceId: 'ab'.repeat(8), spanId: '2'.repeat(16) },
    { ...ok, spanId: '0'.repeat(16) },
    { ...ok, spanId: '0102030405' },
    { ...ok, spanId: '3'.repeat(16), parentSpanId: '0'.repeat(16) },
    { ...ok, spanId: '4'.repeat(16), startTimeUnixNano: '0' },
    { ...ok, spanId: '5'.repeat(16), startTimeUnixNano: ns(20) },
  ]
}

/** An export of `traces` rich traces (one resource, one scope) and, with `unusable`, the refused spans too. */
export const exportOf = (traces: number[], unusable = false): ExportJson => ({
  resourceSpans: [
    {
      resource: { attributes: [str('service.name', 'team-svc'), str('homeostat.run.requester', 'ci')] },
      scopeSpans: [
        {
          scope: { name: 'test', version: '1' },
          spans: [...traces.flatMap(richTrace), ...(unusable ? unusableSpans() : [])],
        },
      ],
    },
  ],
})
