/**
 * OTLP points as Homeostat samples (docs/opentelemetry.md). Each point maps alone, except that a
 * cumulative GenAI histogram is turned into what changed since its previous export (the llm_*
 * metrics hold increments: tokens of a call, or since the last point), which needs the previous
 * export of the same stream: `createDeltaTracker` keeps it, built once per receiver in services.ts.
 *
 * - gauge: one point, the name as mapped (labels.ts).
 * - sum: one point, the value as sent: a cumulative sum is a running total (a Prometheus counter;
 *   a monotonic one is named `…_total`), a delta sum the increment of its interval.
 * - histogram, exponential histogram, summary: `…_count` and `…_sum` as sent (same temporality
 *   rule), and `…{quantile="0.5"|"0.9"|"0.95"|"0.99"}` estimated from the point's buckets through
 *   Homeostat's quantile sketch (sketch.ts; a summary's own quantiles as sent).
 * - gen_ai.client.token.usage → llm_tokens_total{kind=prompt|completion} (cost follows by the price
 *   table, as for every llm_tokens_total write); gen_ai.client.operation.duration → llm_latency_seconds
 *   (the interval's mean, in seconds; `llm_latency_ms` before 0.2) and, with `error.type`, llm_errors_total.
 */
import type { BoundedMap } from '../../../lib/bounded-map.ts'
import { addValue, emptySketch, quantile } from '../sketch.ts'
import type { Kind } from '../kinds.ts'
import type { Sample } from '../store.ts'
import type { Buckets, OtlpPoint } from './decode.ts'
import { checked, labelsOf, metricName } from './labels.ts'

export const QUANTILES = [0.5, 0.9, 0.95, 0.99]
export const TOKEN_USAGE = 'gen_ai.client.token.usage'
export const OPERATION_DURATION = 'gen_ai.client.operation.duration'
const TOKEN_KINDS: Record<string, string> = { input: 'prompt', output: 'completion' }
/** Metrics whose points at the same series and ms add up (increments); others keep the last value. */
const ADDITIVE = new Set(['llm_tokens_total', 'llm_errors_total'])

type Stream = { start: number; count: number; sum: number }
export type DeltaTracker = {
  /** What changed in a GenAI stream since its previous export; null when only a baseline is known. */
  increment(key: string, p: { start: number; count: number; sum: number }): { count: number; sum: number } | null
}

/**
 * Remembers the last cumulative count and sum of each GenAI stream. A stream seen for the first time
 * counts whole when it began after this receiver started (a new process of the client); one that
 * began earlier (Homeostat restarted, or the stream was forgotten) only sets a baseline, so a restart
 * never counts a client's whole history again. A new start time or a smaller count is a reset.
 * The new value is kept at once, before the write: two exports of a stream in flight together (a
 * Collector's parallel senders) then count each change once. The price: when the write fails with a
 * 5xx, the client's retry finds nothing new and that interval is not counted.
 */
export function createDeltaTracker(streams: BoundedMap<string, Stream>, startedAt: number): DeltaTracker {
  return {
    increment(key, p) {
      const prev = streams.get(key)
      streams.set(key, { start: p.start, count: p.count, sum: p.sum })
      if (prev && prev.start === p.start && p.count >= prev.count)
        return { count: p.count - prev.count, sum: p.sum - prev.sum }
      if (prev || p.start >= startedAt) return { count: p.count, sum: p.sum }
      return null
    },
  }
}

/** Quantiles of explicit buckets: each bucket's count at its middle (the outer two at their bound). */
function explicitSketch(bounds: number[], counts: number[]) {
  const s = emptySketch()
  counts.forEach((n, i) => {
    if (!n) return
    const lo = bounds[i - 1]
    const hi = bounds[i]
    const at = lo === undefined ? hi : hi === undefined ? lo : (lo + hi) / 2
    if (at !== undefined) addValue(s, at, n)
  })
  return s
}

/** Quantiles of exponential buckets: bucket i covers (base^i, base^(i+1)], counted at base^(i+½). */
function exponentialSketch(scale: number, zero: number, positive: Buckets, negative: Buckets) {
  const s = emptySketch()
  const base = 2 ** (2 ** -scale)
  if (zero) addValue(s, 0, zero)
  const add = (b: Buckets, sign: number) =>
    b.counts.forEach((n, k) => {
      if (n) addValue(s, sign * base ** (b.offset + k + 0.5), n)
    })
  add(positive, 1)
  add(negative, -1)
  return s
}

/** `kinds`: what each stored name's points mean, by the points' temporality (kinds.ts). */
export type Mapped = { samples: Sample[]; rejected: number; problems: string[]; kinds: Map<string, Kind> }

/** The samples of a request's points; points that cannot be stored are counted with their reason. */
export function samplesOf(points: OtlpPoint[], tracker: DeltaTracker, maxTs: number): Mapped {
  const out = new Map<string, Sample>()
  const result: Mapped = { samples: [], rejected: 0, problems: [], kinds: new Map() }
  const reject = (p: OtlpPoint, message: string) => {
    result.rejected++
    if (result.problems.length < 10) result.problems.push(`${p.metric}: ${message}`)
  }
  const add = (name: string, labels: Record<string, string>, value: number, ts: number) => {
    if (!Number.isFinite(value)) return
    // The store's own series text (store.ts), so it need not serialise the labels again.
    const text = `${name}\u0000${JSON.stringify(labels)}`
    const key = `${text}\u0000${ts}`
    const prev = out.get(key)
    if (prev && ADDITIVE.has(name)) prev.value += value
    else out.set(key, { name, labels, value, ts, key: text })
  }
  // Means of several streams at one series and ms (latency of calls with and without error.type).
  const means = new Map<string, { sample: Sample; sum: number; count: number }>()
  const mean = (name: string, labels: Record<string, string>, sum: number, count: number, ts: number) => {
    const key = `${name}\u0000${JSON.stringify(labels)}\u0000${ts}`
    const m = means.get(key) ?? { sample: { name, labels, value: 0, ts }, sum: 0, count: 0 }
    m.sum += sum
    m.count += count
    means.set(key, m)
  }
  for (const p of points) {
    if (p.ts > maxTs) {
      reject(p, 'timeUnixNano is more than 10 minutes in the future')
      continue
    }
    if (p.metric === TOKEN_USAGE || p.metric === OPERATION_DURATION) {
      const problem = genAi(p, tracker, add, mean)
      if (problem) reject(p, problem)
      continue
    }
    const name = metricName(p.metric)
    if (!name) {
      reject(p, 'name must be 1-200 characters')
      continue
    }
    const l = labelsOf(p)
    if ('problem' in l) {
      reject(p, l.problem)
      continue
    }
    const { labels } = l
    // A delta point is its interval's increase; a cumulative one a running total (a counter when
    // monotonic; an up-down total reads as a gauge).
    const summed: Kind = 'temporality' in p && p.temporality === 'delta' ? 'delta' : 'counter'
    if (p.type === 'gauge') {
      add(name, labels, p.value, p.ts)
      result.kinds.set(name, 'gauge')
    } else if (p.type === 'sum') {
      const stored = p.monotonic && !name.endsWith('_total') ? `${name}_total` : name
      add(stored, labels, p.value, p.ts)
      result.kinds.set(stored, p.temporality === 'delta' ? 'delta' : p.monotonic ? 'counter' : 'gauge')
    } else {
      add(`${name}_count`, labels, p.count, p.ts)
      add(`${name}_sum`, labels, p.sum, p.ts)
      result.kinds.set(`${name}_count`, summed)
      result.kinds.set(`${name}_sum`, summed)
      result.kinds.set(name, 'gauge') // the quantiles
      if ('quantile' in labels) continue // the point's own attribute would clash with ours
      if (p.type === 'summary') {
        for (const q of p.quantiles) add(name, { ...labels, quantile: String(q.quantile) }, q.value, p.ts)
        continue
      }
      const sketch =
        p.type === 'histogram'
          ? explicitSketch(p.bounds, p.counts)
          : exponentialSketch(p.scale, p.zeroCount, p.positive, p.negative)
      for (const q of QUANTILES) {
        const value = quantile(sketch, q)
        if (value !== null) add(name, { ...labels, quantile: String(q) }, value, p.ts)
      }
    }
  }
  for (const m of means.values()) add(m.sample.name, m.sample.labels, m.sum / m.count, m.sample.ts)
  result.samples = [...out.values()]
  return result
}

type Add = (name: string, labels: Record<string, string>, value: number, ts: number) => void
type Mean = (name: string, labels: Record<string, string>, sum: number, count: number, ts: number) => void
const text = (x: unknown) => (x === undefined || x === '' ? undefined : String(x))

/** A GenAI client metric's point as llm_* samples, or the reason it cannot be. */
function genAi(p: OtlpPoint, tracker: DeltaTracker, add: Add, mean: Mean): string | undefined {
  if (p.type !== 'histogram' && p.type !== 'exponential')
    return `must be a histogram (the GenAI semantic conventions), not a ${p.type}`
  const a = p.attributes
  const base: Record<string, string> = {
    model: (text(a['gen_ai.response.model']) ?? text(a['gen_ai.request.model']) ?? 'unknown').slice(0, 200),
  }
  const component = text(a['gen_ai.agent.name']) ?? text(p.resource['service.name'])
  if (component) base.component = component.slice(0, 200)
  const operation = text(a['gen_ai.operation.name'])
  if (operation) base.operation = operation.slice(0, 100)
  const kind = p.metric === TOKEN_USAGE ? TOKEN_KINDS[String(a['gen_ai.token.type'])] : undefined
  if (p.metric === TOKEN_USAGE && !kind) return 'gen_ai.token.type must be input or output'
  const error = text(a['error.type'])?.slice(0, 100)
  const l = checked(base)
  if ('problem' in l) return l.problem
  // One stream per metric, attribute set and resource (the OTLP identity of a stream).
  const key = `${p.metric}\u0000${JSON.stringify(a)}\u0000${JSON.stringify(p.resource)}`
  const inc = p.temporality === 'delta' ? { count: p.count, sum: p.sum } : tracker.increment(key, p)
  if (!inc || inc.count <= 0) return undefined
  if (kind) {
    add('llm_tokens_total', { ...base, kind }, Math.round(inc.sum), p.ts)
    return undefined
  }
  const toSeconds = p.unit === 'ms' ? 0.001 : 1
  mean('llm_latency_seconds', base, inc.sum * toSeconds, inc.count, p.ts)
  if (error) {
    const { operation: _, ...rest } = base
    add('llm_errors_total', { ...rest, error }, inc.count, p.ts)
  }
  return undefined
}
