/** Parameters as Prometheus reads them: times in RFC 3339 or Unix seconds, durations, values as text. */
import * as v from 'valibot'
import { badData, parseDuration } from './ast.ts'

/** Validates the request's parameters with `schema`; a failure is bad_data naming the parameter. */
export function readParams<S extends v.GenericSchema<Record<string, string | undefined>>>(
  params: URLSearchParams,
  schema: S,
): v.InferOutput<S> {
  const raw: Record<string, string> = {}
  for (const [k, val] of params) if (!(k in raw)) raw[k] = val
  const r = v.safeParse(schema, raw)
  if (r.success) return r.output
  const issue = r.issues[0]
  const field = issue.path?.map((p) => String(p.key)).join('.') ?? '(params)'
  throw badData(`invalid parameter "${field}": ${raw[field] === undefined ? 'missing' : issue.message}`)
}

/** A time: Unix seconds (float) or RFC 3339; in ms. */
export function parseTime(text: string, field: string): number {
  const t = text.trim()
  if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) {
    const ms = Math.round(Number(t) * 1000)
    if (Number.isFinite(ms)) return ms
  } else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(t)) {
    const ms = Date.parse(t)
    if (!Number.isNaN(ms)) return ms
  }
  throw badData(`invalid parameter "${field}": cannot parse "${text}" to a valid timestamp`)
}

export function stepOf(text: string): number {
  const ms = parseDuration(text)
  if (ms === undefined) throw badData(`invalid parameter "step": cannot parse "${text}" to a valid duration`)
  if (ms <= 0)
    throw badData(
      'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
    )
  return ms
}

/** A sample value as Prometheus writes it: a string, with NaN and ±Inf spelled its way. */
export const formatValue = (x: number) =>
  Number.isNaN(x) ? 'NaN' : x === Infinity ? '+Inf' : x === -Infinity ? '-Inf' : String(x)
