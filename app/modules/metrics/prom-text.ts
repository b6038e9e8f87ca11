import { LABEL_NAME, MAX_LABELS, METRIC_NAME } from './schema.ts'

export type ParsedSample = { name: string; labels: Record<string, string>; value: number; ts?: number }
export type ParseError = { line: number; message: string }

/**
 * Longest value token read: the shortest form of any float64, which exporters print, fits with room
 * to spare; a longer token is refused before it is scanned.
 */
export const MAX_VALUE_LENGTH = 64

const isDigit = (text: string, i: number) => {
  const c = text.charCodeAt(i)
  return c >= 48 && c <= 57
}

/**
 * A value in one left-to-right pass (no regex: the pattern it replaces backtracked over long digit
 * runs): an optional sign, then `Inf`, `inf`, `NaN`, `nan`, or digits with an optional fraction
 * (`1`, `1.`, `1.5`, `.5`) and an optional exponent (`e3`, `E-3`).
 */
function parseValue(text: string) {
  let i = text[0] === '+' || text[0] === '-' ? 1 : 0
  const word = text.slice(i)
  if (word === 'Inf' || word === 'inf') return text[0] === '-' ? -Infinity : Infinity
  if (word === 'NaN' || word === 'nan') return NaN
  let digits = 0
  for (; isDigit(text, i); i++) digits++
  if (text[i] === '.') for (i++; isDigit(text, i); i++) digits++
  if (digits === 0) return undefined
  if (text[i] === 'e' || text[i] === 'E') {
    i++
    if (text[i] === '+' || text[i] === '-') i++
    if (!isDigit(text, i)) return undefined
    while (isDigit(text, i)) i++
  }
  return i === text.length ? Number(text) : undefined
}

/** Reads `{a="x",b="y"}` starting at `at` (the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, at: number): { labels: Record<string, string>; end: number } | string {
  const labels: Record<string, string> = {}
  let i = at + 1
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++
    if (line[i] === '}') return { labels, end: i + 1 }
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))
    if (!nameMatch) return `bad label name at column ${i + 1}`
    const name = nameMatch[0]
    i += name.length
    while (line[i] === ' ') i++
    if (line[i] !== '=') return `expected = after label ${name}`
    i++
    while (line[i] === ' ') i++
    if (line[i] !== '"') return `label ${name} needs a quoted value`
    i++
    let value = ''
    for (;;) {
      const ch = line[i]
      if (ch === undefined) return `unterminated value for label ${name}`
      if (ch === '\\') {
        const next = line[i + 1]
        value += next === 'n' ? '\n' : next === '\\' ? '\\' : next === '"' ? '"' : `\\${next ?? ''}`
        i += 2
        continue
      }
      if (ch === '"') break
      value += ch
      i++
    }
    i++
    if (name in labels) return `label ${name} appears twice`
    labels[name] = value
  }
}

/**
 * Parses the Prometheus text exposition format (0.0.4): counters, gauges, untyped, histogram
 * `_bucket/_sum/_count` and summary lines, with optional millisecond timestamps. Comments and
 * HELP lines are read past; `# TYPE` lines give `types` (a counter's, histogram's or summary's
 * series are cumulative counters, a gauge's a gauge; untyped says nothing). Every line that does
 * not parse is reported by number.
 */
export function parsePrometheusText(text: string) {
  const samples: ParsedSample[] = []
  const errors: ParseError[] = []
  const types = new Map<string, 'counter' | 'gauge'>()
  const lines = text.split('\n')
  // biome-ignore lint/suspicious/useIterableCallbackReturn: `return void errors.push(…)` ends a line early
  lines.forEach((raw, index) => {
    const line = raw.trim()
    if (line.startsWith('#')) {
      const typed = /^#\s*TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(counter|gauge|histogram|summary)\s*$/.exec(line)
      if (!typed) return
      const [, name, type] = typed as unknown as [string, string, string]
      if (type === 'gauge') types.set(name, 'gauge')
      else if (type === 'counter') types.set(name, 'counter')
      else for (const part of ['_count', '_sum', '_bucket']) types.set(`${name}${part}`, 'counter')
      if (type === 'summary') types.set(name, 'gauge') // its quantiles
      return
    }
    if (!line) return
    const lineNo = index + 1
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (!nameMatch || !METRIC_NAME.test(nameMatch[0]))
      return void errors.push({ line: lineNo, message: 'expected a metric name' })
    const name = nameMatch[0]
    let rest = name.length
    let labels: Record<string, string> = {}
    if (line[rest] === '{') {
      const parsed = parseLabels(line, rest)
      if (typeof parsed === 'string') return void errors.push({ line: lineNo, message: parsed })
      labels = parsed.labels
      rest = parsed.end
    }
    const fields = line.slice(rest).trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2 || !fields[0])
      return void errors.push({ line: lineNo, message: 'expected a value and an optional timestamp' })
    if (fields[0].length > MAX_VALUE_LENGTH)
      return void errors.push({
        line: lineNo,
        message: `value ${JSON.stringify(fields[0].slice(0, 40))}… is longer than ${MAX_VALUE_LENGTH} characters`,
      })
    const value = parseValue(fields[0])
    if (value === undefined)
      return void errors.push({
        line: lineNo,
        message: `value ${JSON.stringify(fields[0].slice(0, 40))} is not a number`,
      })
    let ts: number | undefined
    if (fields[1] !== undefined) {
      if (!/^-?\d{1,15}$/.test(fields[1]))
        return void errors.push({ line: lineNo, message: 'timestamp must be whole milliseconds' })
      ts = Number(fields[1])
    }
    if (Object.keys(labels).length > MAX_LABELS)
      return void errors.push({ line: lineNo, message: `at most ${MAX_LABELS} labels` })
    if (Object.keys(labels).some((k) => !LABEL_NAME.test(k) || k.startsWith('__')))
      return void errors.push({ line: lineNo, message: 'label names starting with __ are reserved' })
    samples.push({ name, labels, value, ts })
  })
  return { samples, errors, types }
}
