/**
 * What every OTLP signal shares: the common/v1 and resource/v1 protobuf messages (opentelemetry-proto
 * v1.11.0, field numbers and types as there; fields no receiver reads are left out, protobufjs skips
 * unknown fields), and attributes in both encodings brought to one form. A protobuf message is first
 * written in its OTLP/JSON form (ints and nanoseconds as strings, bytes as base64, ids as hex), so one
 * valibot schema judges what came in either encoding.
 */
import { Buffer } from 'node:buffer'
import * as v from 'valibot'

export type Scalar = string | number | boolean
export type Attrs = Record<string, Scalar>

/** protobufjs JSON descriptors of common/v1 and resource/v1, to spread into a signal's own root. */
export const commonMessages = {
  Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
  InstrumentationScope: {
    fields: {
      name: { type: 'string', id: 1 },
      version: { type: 'string', id: 2 },
      attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
    },
  },
  KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
  AnyValue: {
    oneofs: {
      value: {
        oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'],
      },
    },
    fields: {
      stringValue: { type: 'string', id: 1 },
      boolValue: { type: 'bool', id: 2 },
      intValue: { type: 'int64', id: 3 },
      doubleValue: { type: 'double', id: 4 },
      arrayValue: { type: 'ArrayValue', id: 5 },
      kvlistValue: { type: 'KeyValueList', id: 6 },
      bytesValue: { type: 'bytes', id: 7 },
    },
  },
  ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
  KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
}

/** Attributes in OTLP/JSON form. Unknown fields are ignored (the OTLP/JSON rule for receivers). */
export const KeyValue = v.looseObject({ key: v.string('must be a string'), value: v.optional(v.unknown()) })
export const KeyValues = v.optional(v.array(KeyValue, 'must be a list of {key, value}'), [])
/** A repeated field of the envelope: absent is empty. */
export const list = <T extends v.GenericSchema>(item: T) => v.optional(v.array(item, 'must be a list'), [])

/** An attribute value as a scalar: arrays and maps become their JSON text. */
export function scalar(value: unknown): Scalar | undefined {
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
/** OTLP/JSON attributes as a flat record (values no scalar can hold are left out). */
export function flatten(kvs: { key: string; value?: unknown }[] | undefined): Attrs {
  const out: Attrs = {}
  for (const kv of kvs ?? []) {
    const s = scalar(kv.value)
    if (s !== undefined) out[kv.key] = s
  }
  return out
}

/** Long (fixed64/int64 from protobufjs) as a decimal string, exact. */
export const longText = (x: unknown) => (x == null ? undefined : String(x))
/** Bytes as lower-case hex ('' for none): trace and span ids. */
export const toHex = (b: Uint8Array | undefined) => (b?.length ? Buffer.from(b).toString('hex') : '')

type ProtoValue = Record<string, unknown> & { value?: string }
export type ProtoKv = { key: string; value?: ProtoValue | null }
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
/** Decoded protobuf attributes in their OTLP/JSON form. */
export const kvJson = (kvs: ProtoKv[] | undefined) =>
  (kvs ?? []).map((kv) => ({ key: kv.key, value: anyJson(kv.value) }))
