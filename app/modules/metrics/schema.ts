import * as v from 'valibot'
import { LABEL_NAME } from '../../lib/matchers.ts'
import { TimeInput } from '../../lib/time.ts'

export { LABEL_NAME }
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
export const MAX_LABELS = 32

export const MetricName = v.pipe(
  v.string('must be a string'),
  v.maxLength(200, 'must be at most 200 characters'),
  v.regex(METRIC_NAME, 'must match [a-zA-Z_:][a-zA-Z0-9_:]*'),
)

export const Labels = v.pipe(
  v.record(
    v.pipe(
      v.string(),
      v.maxLength(100, 'label names are at most 100 characters'),
      v.regex(LABEL_NAME, 'label names must match [a-zA-Z_][a-zA-Z0-9_]*'),
      v.check((k) => !k.startsWith('__'), 'label names starting with __ are reserved'),
    ),
    v.pipe(v.string('label values must be strings'), v.maxLength(1024, 'label values are at most 1024 characters')),
    'must be an object of string labels',
  ),
  v.check((labels) => Object.keys(labels).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`),
)

export const Point = v.strictObject({
  name: MetricName,
  value: v.pipe(v.number('must be a number'), v.finite('must be a finite number')),
  labels: v.optional(Labels),
  ts: v.optional(TimeInput),
})

export const batchBody = (maxBatch: number) =>
  v.strictObject({
    points: v.pipe(
      v.array(Point, 'must be a list of points'),
      v.minLength(1, 'must not be empty'),
      v.maxLength(maxBatch, `at most ${maxBatch} points per request`),
    ),
  })

/** What POST /api/v1/metrics takes as JSON (for the docs; the route checks each shape on its own). */
export const ingestBody = (maxBatch: number) =>
  v.union([Point, batchBody(maxBatch)], 'must be a point {name, value, labels?, ts?} or {points: [...]}')

export type PointInput = v.InferOutput<typeof Point>

const DURATION = /^(\d+)(ms|s|m|h|d)?$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
/** `30s`, `5m`, `1h`, `1d` or milliseconds. */
export const Duration = v.pipe(
  v.string(),
  v.trim(),
  v.regex(DURATION, 'must be a duration like 30s, 5m, 1h, 1d or milliseconds'),
  v.transform((s) => {
    const [, n, unit] = DURATION.exec(s)!
    return Number(n) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS]
  }),
)

/** A Duration or whole milliseconds, between min and max ms; `like` is the examples the error gives. */
export const DurationBetween = (min: number, max: number, like = '30s, 5m, 1h') =>
  v.pipe(
    v.union([Duration, v.pipe(v.number(), v.integer())], `must be a duration like ${like} or whole milliseconds`),
    v.check((ms) => ms >= min, `must be at least ${min} ms`),
    v.check((ms) => ms <= max, `must be at most ${max} ms`),
  )

const Optional = <S extends v.GenericSchema>(s: S) =>
  v.optional(
    v.union([
      v.pipe(
        v.literal(''),
        v.transform(() => undefined),
      ),
      s,
    ]),
  )

export const SeriesQuery = v.object({
  search: v.optional(v.pipe(v.string(), v.maxLength(200))),
  name: Optional(MetricName),
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d+$/, 'must be a whole number'), v.transform(Number), v.minValue(1), v.maxValue(500)),
  ),
  cursor: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'must be a cursor from a previous reply'))),
})

const POINT_KEYS = new Set(['name', 'value', 'labels', 'ts'])

function plainPoint(p: unknown): p is PointInput {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return false
  const o = p as Record<string, unknown>
  for (const k in o) if (!POINT_KEYS.has(k)) return false
  const { name, value, labels, ts } = o
  if (typeof name !== 'string' || name.length > 200 || !METRIC_NAME.test(name)) return false
  if (typeof value !== 'number' || !Number.isFinite(value)) return false
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isInteger(ts) || ts < 0)) return false
  if (labels === undefined) return true
  if (
    typeof labels !== 'object' ||
    labels === null ||
    Array.isArray(labels) ||
    Object.getPrototypeOf(labels) !== Object.prototype
  )
    return false
  let n = 0
  for (const k in labels) {
    const lv = (labels as Record<string, unknown>)[k]
    if (
      ++n > MAX_LABELS ||
      k.length > 100 ||
      k.startsWith('__') ||
      k === 'constructor' ||
      k === 'prototype' ||
      !LABEL_NAME.test(k)
    )
      return false
    if (typeof lv !== 'string' || lv.length > 1024) return false
  }
  return true
}

/**
 * The points of a JSON body when every one is in the plain shape (numeric or absent `ts`, labels
 * that need no rule's message): what `Point`/`batchBody` would give, without building their
 * per-field results. `undefined` when anything is off: the caller then runs the schemas, which
 * name each problem.
 */
export function plainPoints(body: unknown, maxBatch: number): PointInput[] | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
  if (!('points' in body)) return plainPoint(body) ? [body] : undefined
  const list = (body as { points: unknown }).points
  for (const k in body) if (k !== 'points') return undefined
  if (!Array.isArray(list) || list.length < 1 || list.length > maxBatch) return undefined
  for (const p of list) if (!plainPoint(p)) return undefined
  return list as PointInput[]
}
