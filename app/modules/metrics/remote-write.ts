/**
 * Prometheus remote write 1.0 receiver: a snappy (block format) compressed protobuf
 * `prometheus.WriteRequest`. Only what 1.0 carries as float samples is read (labels and samples);
 * exemplars, native histograms and metadata are skipped as unknown fields.
 */
import protobuf from 'protobufjs/light.js'
import { AppError, badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { LABEL_NAME, MAX_LABELS, METRIC_NAME } from './schema.ts'
import { createSnappyReader } from './snappy.ts'
import type { Sample, SampleColumns, Samples } from './store.ts'

// prometheus/prompb/remote.proto and types.proto, the fields 1.0 defines for float samples.
const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
})
export const WriteRequest = root.lookupType('prometheus.WriteRequest')

type Int64 = number | { toNumber(): number }
export type WireSeries = { labels: { name: string; value: string }[]; samples: { value: number; timestamp: Int64 }[] }

const MAX_FUTURE_MS = 10 * 60_000
const MAX_DETAILS = 100
/** How much larger than the (already limited) body the decompressed message may be. */
export const MAX_EXPANSION = 8
// Label fields a series may carry on the wire: MAX_LABELS plus __name__, with room for the
// empty-valued ones Prometheus' text treats as absent. More is no real sender; refusing it keeps a
// small body from becoming millions of label objects.
const MAX_WIRE_LABELS = 2 * MAX_LABELS + 2

/** The 413 for a request with more series or samples than a request may carry. */
export const tooManySamples = (max: number) =>
  new AppError(413, 'payload_too_large', `A remote write request carries at most ${max} samples`, [
    { field: 'timeseries', message: `at most ${max} series and ${max} samples a request (METRICS_MAX_BATCH)` },
  ])

/**
 * Counts series, samples and labels on the wire without building a message, and throws the 413
 * as soon as a count passes its bound: the thorough decode below makes an object of each, so a
 * body of millions of empty samples must be refused before it. Malformed input is left to that
 * decode to describe (it stops at the first bad field).
 */
export function checkCounts(bytes: Uint8Array, max: number) {
  const r = protobuf.Reader.create(bytes)
  let series = 0
  let samples = 0
  try {
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag !== 10) {
        r.skipType(tag & 7)
        continue
      }
      const end = r.uint32() + r.pos
      if (++series > max) throw tooManySamples(max)
      let labels = 0
      while (r.pos < end && r.pos < r.len) {
        const t = r.uint32()
        if (t === 18 && ++samples > max) throw tooManySamples(max)
        if (t === 10 && ++labels > MAX_WIRE_LABELS)
          throw badRequest('Invalid WriteRequest; nothing was written', [
            { field: `timeseries.${series - 1}.labels`, message: `at most ${MAX_LABELS} labels besides __name__` },
          ])
        r.skipType(t & 7)
      }
    }
  } catch (error) {
    if (error instanceof AppError) throw error
  }
}

export function decodeProto(bytes: Uint8Array): WireSeries[] {
  try {
    const message = WriteRequest.decode(bytes) as unknown as { timeseries?: WireSeries[] }
    return message.timeseries ?? []
  } catch (error) {
    throw new AppError(400, 'invalid_protobuf', 'The body is not a valid protobuf prometheus.WriteRequest', [
      { field: '(body)', message: String((error as Error).message) },
    ])
  }
}

const toMs = (t: Int64) => (typeof t === 'number' ? t : t.toNumber())

/**
 * What a decoder remembers between requests, so repeated names and series are not checked again:
 * label and metric names already found good, and series already checked by the exact bytes of
 * their labels as sent (a sender encodes a series' labels the same way every time), so a known
 * series costs a hash of those bytes, one map lookup by number and a compare: no string is made
 * (a string key a series, decoded and hashed each request, was a third of decoding, ADR 0031).
 * Each is cleared when it grows past its bound.
 */
type Memory = {
  labelNames: Set<string>
  metricNames: Set<string>
  /** Checked series by the hash of their label bytes (a bucket holds those whose hashes collide). */
  series: Map<number, Checked[]>
  seriesCount: number
  seriesBytes: number
  maxSeriesBytes: number
}
/** A checked series: `raw` its label bytes as sent, `key` the same as text (the store's cache key, see Sample). */
type Checked = { name: string; labels: Record<string, string>; key: string; raw: Uint8Array }
// Series whose label bytes hash alike: more are not remembered (checked again each time), so a
// sender crafting collisions makes its own requests slower, not every lookup.
const MAX_BUCKET = 8
const MAX_NAMES = 50_000
const MAX_CHECKED_SERIES = 200_000
// The checked series are also bounded by an estimate of their bytes: a series' labels may be 32 of
// 1 KB each, so the entry bound alone would let long label sets pin gigabytes. Each entry keeps its
// label bytes, its key (the same as text, two bytes a character) and the decoded labels, about the same again.
export const CHECKED_SERIES_BYTES = 64 * 1024 * 1024
const ENTRY_BYTES = 128

const remember = (set: Set<string>, name: string) => {
  if (set.size > MAX_NAMES) set.clear()
  set.add(name)
}
const labelNameProblem = (mem: Memory, name: string) =>
  mem.labelNames.has(name)
    ? undefined
    : name.length > 100 || !LABEL_NAME.test(name)
      ? 'label names must match [a-zA-Z_][a-zA-Z0-9_]* (at most 100 characters)'
      : name.startsWith('__')
        ? 'label names starting with __ are reserved'
        : void remember(mem.labelNames, name)
const metricNameOk = (mem: Memory, name: string) =>
  mem.metricNames.has(name) || (name.length <= 200 && METRIC_NAME.test(name) && (remember(mem.metricNames, name), true))

/** The series' name and labels, or undefined after adding its problems, each named `timeseries.<index>…`. */
function checkLabels(
  mem: Memory,
  ts: WireSeries,
  i: number,
  problems: ErrorDetail[],
): { name: string; labels: Record<string, string> } | undefined {
  let name: string | undefined
  const labels: Record<string, string> = {}
  let count = 0
  const before = problems.length
  const bad = (field: string, message: string) => problems.push({ field: `timeseries.${i}${field}`, message })
  for (const l of ts.labels) {
    if (l.name === '__name__') {
      if (name !== undefined) bad('.labels.__name__', 'appears twice in the series')
      name = l.value
      continue
    }
    if (l.value === '') continue // Prometheus treats an empty label as no label
    const problem = labelNameProblem(mem, l.name)
    if (problem) bad(`.labels.${l.name.slice(0, 100)}`, problem)
    else if (l.value.length > 1024) bad(`.labels.${l.name}`, 'label values are at most 1024 characters')
    else if (Object.hasOwn(labels, l.name)) bad(`.labels.${l.name}`, 'appears twice in the series')
    else {
      labels[l.name] = l.value
      count++
    }
  }
  if (name === undefined || name === '') bad('.labels', 'has no __name__ label (the metric name)')
  else if (!metricNameOk(mem, name))
    bad('.labels.__name__', 'metric names must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 characters)')
  if (count > MAX_LABELS) bad('.labels', `at most ${MAX_LABELS} labels besides __name__`)
  return problems.length === before ? { name: name!, labels } : undefined
}

/**
 * Turns decoded series into samples, or throws a 400 naming every bad series (up to 100) so that
 * nothing of the request is written. Non-finite values (NaN, which includes Prometheus' staleness
 * marker, and ±Inf) are dropped and counted.
 */
function toSamples(mem: Memory, timeseries: WireSeries[], now: number) {
  const samples: Sample[] = []
  const problems: ErrorDetail[] = []
  let dropped = 0
  for (let i = 0; i < timeseries.length && problems.length < MAX_DETAILS; i++) {
    const ts = timeseries[i]!
    const series = checkLabels(mem, ts, i, problems)
    for (let j = 0; j < ts.samples.length; j++) {
      const s = ts.samples[j]!
      const t = toMs(s.timestamp)
      const problem =
        !Number.isSafeInteger(t) || t < 0
          ? 'must be epoch milliseconds, not negative'
          : t > now + MAX_FUTURE_MS
            ? 'is more than 10 minutes in the future'
            : undefined
      if (problem) {
        problems.push({ field: `timeseries.${i}.samples.${j}.timestamp`, message: problem })
        break
      }
      if (!Number.isFinite(s.value)) dropped++
      else if (series) samples.push({ name: series.name, labels: series.labels, value: s.value, ts: t })
    }
  }
  if (problems.length) throw badRequest('Invalid WriteRequest; nothing was written', problems.slice(0, MAX_DETAILS))
  return { samples, dropped }
}

const TimeSeriesType = root.lookupType('prometheus.TimeSeries')
const latin1 = new TextDecoder('latin1')

/** Where a walk over the wire is: the bytes and the position of the next one. */
type Cursor = { b: Uint8Array; pos: number }

/** An unsigned varint up to 64 bits as a number (exact below 2^53), or -1 past the end or too long. */
function uvarint(c: Cursor): number {
  const b = c.b
  let p = c.pos
  if (p < b.length && b[p]! < 0x80) {
    c.pos = p + 1
    return b[p]!
  }
  let v = 0
  for (let mul = 1; mul < 2 ** 70; mul *= 128) {
    if (p >= b.length) return -1
    const x = b[p++]!
    v += (x & 0x7f) * mul
    if (x < 0x80) {
      c.pos = p
      return v
    }
  }
  return -1
}

/** Skips a field of this wire type; false for groups (no sender of remote write uses them) or a bad length. */
function skip(c: Cursor, wireType: number): boolean {
  if (wireType === 0) return uvarint(c) >= 0
  if (wireType === 1) c.pos += 8
  else if (wireType === 5) c.pos += 4
  else if (wireType === 2) {
    const len = uvarint(c)
    if (len < 0) return false
    c.pos += len
  } else return false
  return c.pos <= c.b.length
}

/** FNV-1a of bytes[from, to). */
function hashOf(b: Uint8Array, from: number, to: number) {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return h >>> 0
}

/** The checked series whose label bytes are bytes[from, to), if remembered. */
function findChecked(bucket: Checked[] | undefined, b: Uint8Array, from: number, to: number) {
  if (!bucket) return undefined
  const len = to - from
  next: for (const c of bucket) {
    const raw = c.raw
    if (raw.length !== len) continue
    for (let i = 0; i < len; i++) if (raw[i] !== b[from + i]) continue next
    return c
  }
  return undefined
}

/**
 * The common case, walked straight off the bytes into columns (no object a label or a sample):
 * every series well formed, every timestamp acceptable. A series is known by the exact bytes of its
 * labels. Returns undefined at the first thing that is not so, and the caller decodes the whole
 * message the thorough way, which names every problem; throws the 413 as soon as the series or
 * samples pass `max`.
 */
function decodeKnown(
  mem: Memory,
  bytes: Uint8Array,
  now: number,
  max: number,
): { series: number; samples: SampleColumns; dropped: number } | undefined {
  const c: Cursor = { b: bytes, pos: 0 }
  // Doubles are read by copying their 8 bytes under a Float64Array (little-endian, as every host this runs on).
  const f64 = new Float64Array(1)
  const f64Bytes = new Uint8Array(f64.buffer)
  // Columns grown by doubling; a sample is at least a dozen bytes on the wire, a series more.
  let cap = Math.max(64, Math.ceil(bytes.length / 64))
  let ts = new Float64Array(cap)
  let values = new Float64Array(cap)
  let seriesOf = new Uint32Array(cap)
  let n = 0
  const series: Checked[] = []
  const latest = now + MAX_FUTURE_MS
  let count = 0
  let dropped = 0
  while (c.pos < bytes.length) {
    const tag = uvarint(c)
    if (tag !== 10) {
      if (tag < 0 || !skip(c, tag & 7)) return undefined
      continue
    }
    const size = uvarint(c)
    const end = c.pos + size
    if (size < 0 || end > bytes.length) return undefined
    const body = c.pos
    if (++count > max) throw tooManySamples(max)
    let labelsFrom = -1
    let labelsTo = -1
    let labelCount = 0
    let split = false
    const slot = series.length
    const first = n
    while (c.pos < end) {
      const at = c.pos
      const t = uvarint(c)
      if (t === 10) {
        if (++labelCount > MAX_WIRE_LABELS) return undefined
        if (labelsFrom < 0) labelsFrom = at
        else if (labelsTo !== at) split = true
        const len = uvarint(c)
        if (len < 0) return undefined
        c.pos += len
        labelsTo = c.pos
      } else if (t === 18) {
        const len = uvarint(c)
        const sampleEnd = c.pos + len
        if (len < 0 || sampleEnd > end) return undefined
        let value = 0
        let stamp = 0
        while (c.pos < sampleEnd) {
          const f = uvarint(c)
          if (f === 9 && c.pos + 8 <= sampleEnd) {
            const at = c.pos
            for (let k = 0; k < 8; k++) f64Bytes[k] = bytes[at + k]!
            value = f64[0]!
            c.pos = at + 8
          } else if (f === 16) stamp = uvarint(c)
          else if (f < 0 || !skip(c, f & 7)) return undefined
        }
        // A negative int64 is a 10-byte varint, far past 2^53: not safe, so it goes the thorough way too.
        if (c.pos !== sampleEnd || !Number.isSafeInteger(stamp) || stamp < 0 || stamp > latest) return undefined
        if (n + dropped >= max) throw tooManySamples(max)
        if (!Number.isFinite(value)) {
          dropped++
          continue
        }
        if (n === cap) {
          cap *= 2
          ts = grow(ts, new Float64Array(cap))
          values = grow(values, new Float64Array(cap))
          seriesOf = grow(seriesOf, new Uint32Array(cap))
        }
        ts[n] = stamp
        values[n] = value
        seriesOf[n++] = slot
      } else if (t < 0 || !skip(c, t & 7)) return undefined
    }
    if (c.pos !== end || labelsFrom < 0 || split) return undefined
    if (n === first) continue // no sample stored: the series is not needed
    const hash = hashOf(bytes, labelsFrom, labelsTo)
    let known = findChecked(mem.series.get(hash), bytes, labelsFrom, labelsTo)
    if (!known) {
      const problems: ErrorDetail[] = []
      const wire = TimeSeriesType.decode(bytes.subarray(body, end)) as unknown as WireSeries
      const ok = checkLabels(mem, wire, count - 1, problems)
      if (!ok) return undefined
      // A copy: `bytes` is the snappy reader's buffer, written again by the next request.
      const raw = bytes.slice(labelsFrom, labelsTo)
      known = { ...ok, key: `\u0001${latin1.decode(raw)}`, raw }
      rememberSeries(mem, hash, known)
    }
    series.push(known)
  }
  return {
    series: count,
    samples: { series, seriesOf: seriesOf.subarray(0, n), ts: ts.subarray(0, n), values: values.subarray(0, n) },
    dropped,
  }
}

const grow = <T extends Float64Array | Uint32Array>(from: T, to: T) => {
  to.set(from)
  return to
}

function rememberSeries(mem: Memory, hash: number, checked: Checked) {
  if (mem.seriesCount >= MAX_CHECKED_SERIES || mem.seriesBytes > mem.maxSeriesBytes) {
    mem.series.clear()
    mem.seriesCount = 0
    mem.seriesBytes = 0
  }
  const bucket = mem.series.get(hash)
  if (bucket && bucket.length >= MAX_BUCKET) return
  if (bucket) bucket.push(checked)
  else mem.series.set(hash, [checked])
  mem.seriesCount++
  mem.seriesBytes += 3 * checked.raw.length + ENTRY_BYTES
}

/**
 * A remote write decoder with its own memory of checked names and series (see Memory): the
 * remote write route makes one when it is built, so that state lives with the app that uses it.
 */
export function createWriteDecoder(options: { memoryBytes?: number } = {}) {
  const mem: Memory = {
    labelNames: new Set(),
    metricNames: new Set(),
    series: new Map(),
    seriesCount: 0,
    seriesBytes: 0,
    maxSeriesBytes: options.memoryBytes ?? CHECKED_SERIES_BYTES,
  }
  const snappy = createSnappyReader()
  return {
    /**
     * What a body decodes to: the samples to store and how many were dropped. Throws 400/413 on
     * bad input, and 413 when the decompressed size or the count of series or samples (`maxSamples`)
     * is over its bound, before the samples past it are made.
     */
    decode(
      body: Uint8Array,
      opts: { maxDecodedBytes: number; maxSamples: number; now: number },
    ): { series: number; samples: Samples; dropped: number } {
      // A view of the reader's kept buffer: everything below is done with it before this returns.
      const bytes = snappy.uncompress(body, opts.maxDecodedBytes)
      let known: ReturnType<typeof decodeKnown>
      try {
        known = decodeKnown(mem, bytes, opts.now, opts.maxSamples)
      } catch (error) {
        if (error instanceof AppError) throw error
        known = undefined // malformed: the thorough decode below says how
      }
      if (known) return known
      checkCounts(bytes, opts.maxSamples)
      const timeseries = decodeProto(bytes)
      return { series: timeseries.length, ...toSamples(mem, timeseries, opts.now) }
    },
    /** What its memory of checked series holds: entries and estimated bytes. */
    memory: () => ({ entries: mem.seriesCount, bytes: mem.seriesBytes }),
  }
}
export type WriteDecoder = ReturnType<typeof createWriteDecoder>
