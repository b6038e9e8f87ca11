/** Checks of values read from items, with messages that say what Homeostat accepts. */
import type { IDataObject } from 'n8n-workflow'

// The same patterns the server applies (app/modules/metrics/schema.ts), so mistakes are named per item.
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
export const MAX_LABELS = 32

/** A suggestion for a name with spaces, dashes or dots: `llm latency-ms` → `llm_latency_ms`. */
export const suggestName = (name: string) =>
  name
    .trim()
    .replace(/[^a-zA-Z0-9_:]+/g, '_')
    .replace(/^([0-9])/, '_$1')

export function metricNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.trim() === '')
    return 'is empty: give a metric name such as agent_run_duration_seconds'
  if (name.length > 200) return 'is longer than 200 characters'
  if (!METRIC_NAME.test(name)) {
    const hint = suggestName(name)
    return `"${name}" is not a valid metric name: use only letters, digits, _ and : (no spaces, dashes or dots) and do not start with a digit${METRIC_NAME.test(hint) ? `, e.g. "${hint}"` : ''}`
  }
  return undefined
}

export function labelNameProblem(name: string): string | undefined {
  if (!LABEL_NAME.test(name))
    return `label name "${name}" may hold only letters, digits and _ and must not start with a digit${LABEL_NAME.test(suggestName(name).replace(/:/g, '_')) ? ` (e.g. "${suggestName(name).replace(/:/g, '_')}")` : ''}`
  if (name.startsWith('__')) return `label name "${name}" starts with __, which is reserved`
  return undefined
}

/** A finite number from a number or a numeric string (`"12.5"`, `" 3 "`); anything else is undefined. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (
    typeof value === 'string' &&
    value.trim() !== '' &&
    /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(value.trim())
  )
    return Number(value.trim())
  return undefined
}

export const show = (value: unknown) => {
  if (value === undefined) return 'nothing (undefined)'
  if (value === null) return 'null'
  const s = typeof value === 'string' ? `"${value}"` : JSON.stringify(value)
  return s.length > 80 ? `${s.slice(0, 80)}…` : s
}

/** A timestamp from epoch ms (number or digits), or an ISO/RFC 3339 string; undefined when empty. */
export function toTimestamp(value: unknown): number | undefined | 'invalid' {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value) : 'invalid'
  if (typeof value === 'string') {
    const s = value.trim()
    if (/^\d{10,16}$/.test(s)) return Number(s)
    const ms = Date.parse(s)
    return Number.isNaN(ms) ? 'invalid' : ms
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'invalid' : value.getTime()
  // Luxon DateTime (what {{ $now }} gives)
  if (typeof value === 'object' && typeof (value as { toMillis?: unknown }).toMillis === 'function')
    return (value as { toMillis: () => number }).toMillis()
  return 'invalid'
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/**
 * An object from JSON text (what a `json` parameter gives) or from an object an expression
 * returned; empty text is `{}`. Throws a message saying what is wrong, with an example.
 */
export function toJsonObject(input: unknown, example = '{"key": "value"}'): IDataObject {
  let obj: unknown = input
  if (typeof input === 'string') {
    if (input.trim() === '') return {}
    obj = parseJson(input)
    if (obj === undefined) throw new Error(`is not valid JSON: give an object like ${example}`)
  }
  if (obj === undefined || obj === null) return {}
  if (typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`must be a JSON object, got ${show(obj)}`)
  return obj as IDataObject
}

/**
 * Labels from a key/value list or a JSON object. Values are turned into strings (numbers and
 * booleans as written); names are checked. Throws a message naming the first bad label.
 */
export function toLabels(input: unknown, what = 'labels'): Record<string, string> {
  let obj: unknown = input
  if (typeof input === 'string') {
    if (input.trim() === '') return {}
    obj = parseJson(input)
    if (obj === undefined) throw new Error(`${what} is not valid JSON: give an object like {"agent": "planner"}`)
  }
  if (obj === undefined || obj === null) return {}
  if (typeof obj !== 'object' || Array.isArray(obj))
    throw new Error(`${what} must be an object of names to values, got ${show(obj)}`)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj as IDataObject)) {
    const problem = labelNameProblem(k)
    if (problem) throw new Error(`${what}: ${problem}`)
    if (v === null || v === undefined) continue
    if (typeof v === 'object') throw new Error(`${what}: the value of "${k}" must be text or a number, got ${show(v)}`)
    out[k] = String(v)
  }
  if (Object.keys(out).length > MAX_LABELS) throw new Error(`${what}: at most ${MAX_LABELS} labels`)
  return out
}

/** `{ pair: [{ name, value }] }` (a fixedCollection) as an object. */
export function pairs(collection: unknown, key = 'pair'): Record<string, unknown> {
  const list =
    (collection as Record<string, Array<{ name?: string; value?: unknown }> | undefined> | undefined)?.[key] ?? []
  const out: Record<string, unknown> = {}
  for (const p of list) if (p.name !== undefined && p.name !== '') out[p.name] = p.value
  return out
}

export const DURATION = /^\d+(ms|s|m|h|d)$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
export function durationMs(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim())
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined
}
