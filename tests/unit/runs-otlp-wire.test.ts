/**
 * The trace intake's protobuf fast path (app/modules/runs/otlp/wire-spans.ts, app/lib/otlp/wire.ts)
 * against the JSON path: the same export decodes to the same spans, the same refused spans with the
 * same problems, whichever encoding it came in; a body that is not valid protobuf is refused.
 */
import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { AppError } from '../../app/lib/errors.ts'
import { decodeExport } from '../../app/modules/runs/otlp/decode.ts'
import { exportOf, jsonOf, protobufOf, richTrace, str } from '../helpers/otlp-export.ts'

const both = (message: Parameters<typeof protobufOf>[0]) => {
  const p = decodeExport('protobuf', protobufOf(message))
  const j = decodeExport('json', jsonOf(message))
  return { p: { ...p, format: undefined }, j: { ...j, format: undefined } }
}

const refusal = (body: Uint8Array) => {
  try {
    decodeExport('protobuf', body)
  } catch (e) {
    return e
  }
  return undefined
}

describe('OTLP trace decoding: protobuf fast path vs JSON path', () => {
  it('gives the same spans for every attribute kind, events, statuses and resource attributes', () => {
    const { p, j } = both(exportOf([1, 2, 3]))
    expect(p.spans).toHaveLength(15)
    expect(p).toEqual(j)
    const root = p.spans[0]!
    // The values the JSON detour used to give: ints past 2^53 rounded as Number('…') rounds them,
    // bytes as base64, arrays and maps as their JSON text, a key without a value left out.
    expect(root.attributes).toMatchObject({
      retries: 9007199254740992,
      ratio: 0.25,
      flag: true,
      blob: Buffer.from([0, 1, 2, 250]).toString('base64'),
      tags: '["a",7]',
      map: '{"k":false}',
    })
    expect('empty' in root.attributes).toBe(false)
    expect(root.resource).toEqual({ 'service.name': 'team-svc', 'homeostat.run.requester': 'ci' })
    expect(p.spans[1]!.events[0]!.attributes['exception.message']).toBe('invalid syntax ✗')
  })

  it('refuses the same spans with the same problems, and keeps the others', () => {
    const { p, j } = both(exportOf([4], true))
    expect(p.rejected).toBe(7)
    expect(p.spans).toHaveLength(5)
    expect(p).toEqual(j)
    expect(p.problems).toContain('resourceSpans.0.scopeSpans.0.spans.5.traceId must not be all zeros')
    expect(p.problems.some((m) => m.endsWith('endTimeUnixNano must not be before startTimeUnixNano'))).toBe(true)
  })

  it('reads a resource sent after its spans, unknown fields, and several resources and scopes', () => {
    const spans = richTrace(5)
    const message = {
      resourceSpans: [
        { scopeSpans: [{ spans: spans.slice(0, 2) }, { spans: spans.slice(2) }] },
        { resource: { attributes: [str('service.name', 'other')] }, scopeSpans: [{ spans: richTrace(6) }] },
      ],
    }
    const bytes = protobufOf(message)
    // The first resource's attributes appended after its spans (field 1 of ResourceSpans, late on the
    // wire) and an unknown varint field (99) at the top level.
    const resource = protobufOf({ resourceSpans: [{ resource: { attributes: [str('late', 'yes')] }, scopeSpans: [] }] })
    const first = decodeExport('protobuf', bytes).spans[0]!
    expect(first.resource).toEqual({})
    const late = Buffer.concat([Buffer.from(bytes), Buffer.from(resource), Buffer.from([0x98, 0x06, 0x01])])
    const d = decodeExport('protobuf', late)
    expect(d.spans).toHaveLength(10)
    // Protobuf merges a repeated message field: the late resource is a third ResourceSpans here.
    expect(d.spans[5]!.resource).toEqual({ 'service.name': 'other' })
    expect(both(message).p).toEqual(both(message).j)
  })

  it('answers 400 invalid_protobuf for a body that is not a valid message', () => {
    const good = Buffer.from(protobufOf(exportOf([7])))
    const named = Buffer.from(
      protobufOf({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...richTrace(8)[0], name: 'XXXX' }] }] }] }),
    )
    const at = named.indexOf('XXXX')
    const badUtf8 = Buffer.from(named)
    badUtf8.set([0xff, 0xfe, 0xc0, 0x80], at)
    // AnyValue arrays nested 120 deep (protobufjs, like protoc, stops at 100), written by hand.
    const varint = (n: number) => {
      const out: number[] = []
      for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80)
      return [...out, n]
    }
    const field = (tag: number, body: Uint8Array) => Buffer.concat([Buffer.from([tag, ...varint(body.length)]), body])
    let deep: Uint8Array = field(0x0a, Buffer.from('bottom'))
    for (let i = 0; i < 120; i++) deep = field(0x2a, field(0x0a, deep))
    const keyValue = Buffer.concat([field(0x0a, Buffer.from('d')), field(0x12, deep)])
    const tooDeep = field(0x0a, field(0x12, field(0x12, field(0x4a, keyValue))))
    const bodies = {
      truncated: good.subarray(0, good.length - 3),
      'wire type 7': Buffer.from([0x0f]),
      'length past the end': Buffer.from([0x0a, 0x7f, 0x01]),
      'invalid UTF-8': badUtf8,
      'nested 120 deep': tooDeep,
      'a varint of 11 bytes': Buffer.from([0x08, ...Array(10).fill(0xff), 0x01]),
    }
    for (const [what, body] of Object.entries(bodies)) {
      const e = refusal(body)
      expect(e, what).toBeInstanceOf(AppError)
      expect((e as AppError).status, what).toBe(400)
      expect((e as AppError).code, what).toBe('invalid_protobuf')
      expect(((e as AppError).details as { field: string }[])[0]?.field, what).toBe('(body)')
    }
    expect(decodeExport('protobuf', good).spans).toHaveLength(5)
  })
})
