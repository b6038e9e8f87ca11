/**
 * Prometheus remote write 1.0 receiver: a snappy (block format) compressed protobuf
 * `prometheus.WriteRequest`. Only what 1.0 carries as float samples is read (labels and samples);
 * exemplars, native histograms and metadata are skipped as unknown fields.
 */
import protobuf from 'protobufjs/light.js'
import { uncompress } from 'snappyjs'
import { AppError, badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { LABEL_NAME, MAX_LABELS, METRIC_NAME } from './schema.ts'
import type { Sample } from './store.ts'

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

/**
 * The length a snappy block stream really produces, walking its tags without copying, or -1 when
 * the stream is malformed. snappyjs fills a buffer of the length the header claims and ignores
 * short or overlong streams, so this makes truncated and corrupt bodies fail instead.
 */
export function snappyStreamLength(buf: Uint8Array, maxHeader = Infinity): { header: number; actual: number } {
  let pos = 0
  let header = 0
  for (let shift = 0; ; shift += 7) {
    if (pos >= buf.length || shift > 28) return { header: -1, actual: -1 }
    const c = buf[pos++]!
    header += (c & 0x7f) * 2 ** shift
    if (c < 0x80) break
  }
  if (header > maxHeader) return { header, actual: -1 } // refused by its header: no need to walk it
  let out = 0
  while (pos < buf.length) {
    const c = buf[pos++]!
    const kind = c & 3
    if (kind === 0) {
      let len = (c >>> 2) + 1
      if (len > 60) {
        const extra = len - 60
        if (pos + extra > buf.length) return { header, actual: -1 }
        len = 0
        for (let i = 0; i < extra; i++) len += buf[pos + i]! * 2 ** (8 * i)
        len += 1
        pos += extra
      }
      if (pos + len > buf.length) return { header, actual: -1 }
      pos += len
      out += len
      continue
    }
    const offsetBytes = kind === 1 ? 1 : kind === 2 ? 2 : 4
    if (pos + offsetBytes > buf.length) return { header, actual: -1 }
    let offset = kind === 1 ? ((c >>> 5) << 8) + buf[pos]! : 0
    if (kind !== 1) for (let i = 0; i < offsetBytes; i++) offset += buf[pos + i]! * 2 ** (8 * i)
    pos += offsetBytes
    if (offset === 0 || offset > out) return { header, actual: -1 }
    out += kind === 1 ? ((c >>> 2) & 7) + 4 : (c >>> 2) + 1
  }
  return { header, actual: out }
}

export function unsnappy(body: Uint8Array, maxBytes: number): Uint8Array {
  const { header, actual } = snappyStreamLength(body, maxBytes)
  if (header > maxBytes) {
    throw new AppError(413, 'payload_too_large', `The decompressed body would be ${header} bytes, over ${maxBytes}`, [
      { field: '(body)', message: `at most ${maxBytes} bytes once decompressed` },
    ])
  }
  if (header < 0 || actual !== header) {
    throw new AppError(
      400,
      'invalid_snappy',
      'The body is not snappy-compressed (block format, as remote write 1.0 sends it)',
      [
        {
          field: '(body)',
          message:
            header < 0
              ? 'has no valid snappy length header'
              : actual < 0
                ? 'is a corrupt snappy stream'
                : `decompresses to ${actual} bytes, not the ${header} its header says`,
        },
      ],
    )
  }
  try {
    return uncompress(body, maxBytes)
  } catch (error) {
    throw new AppError(
      400,
      'invalid_snappy',
      'The body is not snappy-compressed (block format, as remote write 1.0 sends it)',
      [{ field: '(body)', message: String((error as Error).message) }],
    )
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
 * series costs one map lookup, no string decoding. Each is cleared when it grows past its bound.
 */
type Memory = {
  labelNames: Set<string>
  metricNames: Set<string>
  series: Map<string, Checked>
  seriesBytes: number
  maxSeriesBytes: number
}
type Checked = { name: string; labels: Record<string, string>; key: string }
const MAX_NAMES = 50_000
const MAX_CHECKED_SERIES = 200_000
// The checked series are also bounded by an estimate of their bytes: a series' labels may be 32 of
// 1 KB each, so the entry bound alone would let long label sets pin gigabytes. Each entry keeps its
// key (the labels' bytes) and the decoded labels, about the same again.
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

/**
 * The common case, walked with protobufjs' Reader: every series well formed, every timestamp
 * acceptable. Returns undefined at the first thing that is not, and the caller decodes the whole
 * message the thorough way, which names every problem.
 */
function decodeKnown(
  mem: Memory,
  bytes: Uint8Array,
  now: number,
  max: number,
): { series: number; samples: Sample[]; dropped: number } | undefined {
  const r = protobuf.Reader.create(bytes)
  const samples: Sample[] = []
  let series = 0
  let dropped = 0
  while (r.pos < r.len) {
    const tag = r.uint32()
    if (tag !== 10) {
      r.skipType(tag & 7)
      continue
    }
    const end = r.uint32() + r.pos
    if (end > r.len) return undefined
    const body = r.pos
    if (++series > max) throw tooManySamples(max)
    let labelsFrom = -1
    let labelCount = 0
    let labelsTo = -1
    let split = false
    const first = samples.length
    while (r.pos < end) {
      const at = r.pos
      const t = r.uint32()
      if (t === 10) {
        if (++labelCount > MAX_WIRE_LABELS) return undefined
        if (labelsFrom < 0) labelsFrom = at
        else if (labelsTo !== at) split = true
        const len = r.uint32()
        r.pos += len
        labelsTo = r.pos
      } else if (t === 18) {
        const sampleEnd = r.uint32() + r.pos
        let value = 0
        let ts = 0
        while (r.pos < sampleEnd) {
          const f = r.uint32()
          if (f === 9) value = r.double()
          else if (f === 16) ts = toMs(r.int64() as unknown as Int64)
          else r.skipType(f & 7)
        }
        if (r.pos !== sampleEnd || !Number.isSafeInteger(ts) || ts < 0 || ts > now + MAX_FUTURE_MS) return undefined
        if (samples.length + dropped >= max) throw tooManySamples(max)
        if (!Number.isFinite(value)) dropped++
        else samples.push({ name: '', labels: {}, value, ts })
      } else r.skipType(t & 7)
    }
    if (r.pos !== end || labelsFrom < 0 || split) return undefined
    const key = `\u0001${latin1.decode(bytes.subarray(labelsFrom, labelsTo))}`
    let known = mem.series.get(key)
    if (!known) {
      const problems: ErrorDetail[] = []
      const wire = TimeSeriesType.decode(bytes.subarray(body, end)) as unknown as WireSeries
      const ok = checkLabels(mem, wire, series - 1, problems)
      if (!ok) return undefined
      if (mem.series.size >= MAX_CHECKED_SERIES || mem.seriesBytes > mem.maxSeriesBytes) {
        mem.series.clear()
        mem.seriesBytes = 0
      }
      mem.series.set(key, (known = { ...ok, key }))
      mem.seriesBytes += 2 * key.length + ENTRY_BYTES
    }
    for (let i = first; i < samples.length; i++) {
      const s = samples[i]!
      s.name = known.name
      s.labels = known.labels
      s.key = known.key
    }
  }
  return { series, samples, dropped }
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
    seriesBytes: 0,
    maxSeriesBytes: options.memoryBytes ?? CHECKED_SERIES_BYTES,
  }
  return {
    /**
     * What a body decodes to: the samples to store and how many were dropped. Throws 400/413 on
     * bad input, and 413 when the decompressed size or the count of series or samples (`maxSamples`)
     * is over its bound, before the samples past it are made.
     */
    decode(body: Uint8Array, opts: { maxDecodedBytes: number; maxSamples: number; now: number }) {
      const bytes = unsnappy(body, opts.maxDecodedBytes)
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
    memory: () => ({ entries: mem.series.size, bytes: mem.seriesBytes }),
  }
}
export type WriteDecoder = ReturnType<typeof createWriteDecoder>
