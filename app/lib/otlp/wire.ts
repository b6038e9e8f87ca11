/**
 * A small protobuf wire reader for the OTLP receivers' fast paths: a message is walked field by
 * field and what the receiver keeps is built at once, with no message objects, no Long values and
 * no OTLP/JSON form in between (docs/adr/0014-otlp-trace-fast-path.md). It follows protobufjs 8 (the
 * library the receivers' full decoders use) wherever a message is valid or malformed: strings must
 * be valid UTF-8, a known field sent with another wire type is skipped as an unknown field,
 * messages nest at most 100 deep, a length past its message's end is an error, and a scalar sent
 * twice keeps its last value. Anything it cannot read throws; the caller answers 400.
 */
import { Buffer } from 'node:buffer'
import { type Attrs, type Scalar, scalar } from './common.ts'

export type Wire = { buf: Uint8Array; pos: number; view: DataView }

export const VARINT = 0
export const FIXED64 = 1
export const LEN = 2
export const FIXED32 = 5

/** protoc's (and protobufjs') default limit of nested messages. */
const MAX_DEPTH = 100
const TWO_32 = 4_294_967_296

export const wireOf = (buf: Uint8Array): Wire => ({
  buf,
  pos: 0,
  view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
})

const fail = (what: string): never => {
  throw new Error(what)
}

/** A varint's low 32 bits, unsigned (tags, lengths, enums, bools); the rest of its bytes are read and dropped. */
export function uint32(w: Wire): number {
  const b = w.buf
  let value = 0
  let shift = 0
  for (let i = 0; i < 10; i++) {
    if (w.pos >= b.length) return fail('index out of range')
    const byte = b[w.pos++]!
    if (shift < 32) value |= (byte & 0x7f) << shift
    shift += 7
    if (byte < 0x80) return value >>> 0
  }
  return fail('invalid varint encoding')
}

/** A bool varint: true when any of its bits is set (as protobufjs reads it). */
export function bool(w: Wire): boolean {
  const b = w.buf
  let value = false
  for (let i = 0; i < 10; i++) {
    if (w.pos >= b.length) return fail('index out of range')
    const byte = b[w.pos++]!
    if (byte & 0x7f) value = true
    if (byte < 0x80) return value
  }
  return fail('invalid varint encoding')
}

/** An int64 varint as the nearest number (two's complement for negatives), as `Number(String(long))` gives. */
export function int64(w: Wire): number {
  const b = w.buf
  let lo = 0
  let hi = 0
  for (let i = 0; i < 10; i++) {
    if (w.pos >= b.length) return fail('index out of range')
    const byte = b[w.pos++]!
    const bits = byte & 0x7f
    if (i < 4) lo |= bits << (7 * i)
    else if (i === 4) {
      lo |= (bits & 0x0f) << 28
      hi |= bits >> 4
    } else hi |= bits << (7 * i - 32)
    if (byte < 0x80) return longNumber(lo >>> 0, hi >>> 0, true)
  }
  return fail('invalid varint encoding')
}

/** A fixed64 (little-endian, unsigned) as the nearest number. */
export function fixed64(w: Wire): number {
  if (w.pos + 8 > w.buf.length) return fail('index out of range')
  const lo = w.view.getUint32(w.pos, true)
  const hi = w.view.getUint32(w.pos + 4, true)
  w.pos += 8
  return longNumber(lo, hi, false)
}

/** 64 bits (two unsigned halves) as the nearest number: exact below 2^53, else rounded as BigInt → Number rounds. */
function longNumber(lo: number, hi: number, signed: boolean): number {
  if (hi < 0x200000) return hi * TWO_32 + lo
  const big = (BigInt(hi) << 32n) | BigInt(lo)
  return Number(signed ? BigInt.asIntN(64, big) : big)
}

export function double(w: Wire): number {
  if (w.pos + 8 > w.buf.length) return fail('index out of range')
  const x = w.view.getFloat64(w.pos, true)
  w.pos += 8
  return x
}

/** The end of a length-delimited field that starts here (its length read). */
export function end(w: Wire): number {
  const length = uint32(w)
  const to = w.pos + length
  if (to > w.buf.length) return fail('index out of range')
  return to
}

/** A length-delimited field's bytes, without a copy. */
export function bytes(w: Wire): Uint8Array {
  const to = end(w)
  const out = w.buf.subarray(w.pos, to)
  w.pos = to
  return out
}

const strict = new TextDecoder('utf-8', { fatal: true })

/** A string field: UTF-8, refused when invalid (short ASCII strings are read by hand: cheaper than a decoder call). */
export function string(w: Wire): string {
  const to = end(w)
  const b = w.buf
  let s = ''
  if (to - w.pos < 64) {
    let i = w.pos
    for (; i < to; i++) {
      const c = b[i]!
      if (c >= 0x80) break
      s += String.fromCharCode(c)
    }
    if (i === to) {
      w.pos = to
      return s
    }
  }
  try {
    s = strict.decode(b.subarray(w.pos, to))
  } catch {
    fail('invalid UTF-8 in a string')
  }
  w.pos = to
  return s
}

/** Skips a field of `wireType` (groups too, as protobufjs does). */
export function skip(w: Wire, wireType: number, depth = 0): void {
  switch (wireType) {
    case VARINT:
      uint32(w)
      return
    case FIXED64:
      w.pos += 8
      break
    case LEN:
      w.pos = end(w)
      return
    case 3: {
      if (depth > MAX_DEPTH) fail('max depth exceeded')
      for (;;) {
        const tag = uint32(w)
        if ((tag & 7) === 4) return
        skip(w, tag & 7, depth + 1)
      }
    }
    case FIXED32:
      w.pos += 4
      break
    default:
      fail(`invalid wire type ${wireType}`)
  }
  if (w.pos > w.buf.length) fail('index out of range')
}

/** Checks the nesting depth of a message being entered. */
export const enter = (depth: number) => {
  if (depth > MAX_DEPTH) fail('max depth exceeded')
}

/** Checks that a message ended exactly at its length (a field read past it is an error). */
export const done = (w: Wire, to: number) => {
  if (w.pos !== to) fail('index out of range')
}

/** Lower-case hex of a few bytes (trace and span ids). */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
export function hex(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!]
  return s
}

// AnyValue's fields (common/v1): a oneof, the last one sent wins.
type Any = { field: number; value: unknown } | null

/** An AnyValue in OTLP/JSON form for the rare kinds (arrays, maps), so `scalar` turns it into the same text. */
function anyJson(a: Any): unknown {
  if (!a) return {}
  switch (a.field) {
    case 1:
      return { stringValue: a.value }
    case 2:
      return { boolValue: a.value }
    case 3:
      return { intValue: String(a.value) }
    case 4:
      return { doubleValue: a.value }
    case 5:
      return { arrayValue: { values: (a.value as Any[]).map(anyJson) } }
    case 6:
      return { kvlistValue: { values: (a.value as [string, Any][]).map(([key, v]) => ({ key, value: anyJson(v) })) } }
    default:
      return { bytesValue: Buffer.from(a.value as Uint8Array).toString('base64') }
  }
}

function anyValue(w: Wire, to: number, depth: number): Any {
  enter(depth)
  let out: Any = null
  while (w.pos < to) {
    const tag = uint32(w)
    const field = tag >>> 3
    const type = tag & 7
    if (field === 1 && type === LEN) out = { field, value: string(w) }
    else if (field === 2 && type === VARINT) out = { field, value: bool(w) }
    else if (field === 3 && type === VARINT) out = { field, value: int64(w) }
    else if (field === 4 && type === FIXED64) out = { field, value: double(w) }
    else if (field === 5 && type === LEN) out = { field, value: anyList(w, end(w), depth + 1) }
    else if (field === 6 && type === LEN) out = { field, value: kvList(w, end(w), depth + 1) }
    else if (field === 7 && type === LEN) out = { field, value: bytes(w) }
    else skip(w, type, depth)
  }
  done(w, to)
  return out
}
function anyList(w: Wire, to: number, depth: number): Any[] {
  enter(depth)
  const out: Any[] = []
  while (w.pos < to) {
    const tag = uint32(w)
    if (tag === ((1 << 3) | LEN)) out.push(anyValue(w, end(w), depth + 1))
    else skip(w, tag & 7, depth)
  }
  done(w, to)
  return out
}
function kvList(w: Wire, to: number, depth: number): [string, Any][] {
  enter(depth)
  const out: [string, Any][] = []
  while (w.pos < to) {
    const tag = uint32(w)
    if (tag === ((1 << 3) | LEN)) out.push(keyValue(w, end(w), depth + 1))
    else skip(w, tag & 7, depth)
  }
  done(w, to)
  return out
}
function keyValue(w: Wire, to: number, depth: number): [string, Any] {
  enter(depth)
  let key = ''
  let value: Any = null
  while (w.pos < to) {
    const tag = uint32(w)
    if (tag === ((1 << 3) | LEN)) key = string(w)
    else if (tag === ((2 << 3) | LEN)) {
      // A message field sent twice is merged: its oneof keeps the last value sent.
      const v = anyValue(w, end(w), depth + 1)
      if (v) value = v
    } else skip(w, tag & 7, depth)
  }
  done(w, to)
  return [key, value]
}

/**
 * One KeyValue (its bytes up to `to`) into `into`, as `flatten` does with its OTLP/JSON form: strings,
 * bools and numbers as they are, bytes as base64, arrays and maps as their JSON text, no value left out.
 */
export function attribute(w: Wire, to: number, into: Attrs, depth: number): void {
  const [key, value] = keyValue(w, to, depth)
  let s: Scalar | undefined
  if (!value) s = undefined
  else if (value.field <= 4) s = value.value as Scalar
  else s = scalar(anyJson(value))
  if (s !== undefined) into[key] = s
}
