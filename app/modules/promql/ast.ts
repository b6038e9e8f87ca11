/**
 * PromQL text → our own small AST. The grammar is Prometheus' own (the Lezer grammar its web UI
 * uses, `@prometheus-io/lezer-promql`), so what parses here parses in Prometheus; this file keeps
 * only the subset the evaluator runs and refuses the rest by name (docs/grafana.md#promql).
 */
import { parser } from '@prometheus-io/lezer-promql'
import { regexProblem } from '../../lib/safe-regex.ts'

export type MatchOp = '=' | '!=' | '=~' | '!~'
export type Matcher = { label: string; op: MatchOp; value: string }
export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'selector'; matchers: Matcher[]; offset: number; range?: number }
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'agg'; op: string; param?: Expr; expr: Expr; by?: string[]; without?: string[] }
  | {
      kind: 'binary'
      op: string
      lhs: Expr
      rhs: Expr
      bool: boolean
      on?: string[]
      ignoring?: string[]
    }
  | { kind: 'neg'; expr: Expr }

/** A query we refuse: Prometheus' `bad_data` error type, with its message. */
export class PromError extends Error {
  constructor(
    readonly errorType: 'bad_data' | 'execution',
    message: string,
  ) {
    super(message)
  }
}
export const badData = (message: string) => new PromError('bad_data', message)

export const SUPPORTED_FUNCTIONS = [
  'rate',
  'irate',
  'increase',
  'delta',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'quantile_over_time',
  'histogram_quantile',
  'abs',
  'ceil',
  'floor',
  'round',
  'sqrt',
  'exp',
  'ln',
  'vector',
  'scalar',
  'time',
] as const
export const SUPPORTED_AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count', 'topk'] as const
const BINARY_OPS = ['+', '-', '*', '/', '%', '^', '==', '!=', '>', '<', '>=', '<='] as const
const COMPARISONS = new Set(['==', '!=', '>', '<', '>=', '<='])
export const isComparison = (op: string) => COMPARISONS.has(op)

// A lezer node as far as this file uses it (the type lives in @lezer/common, a dependency of the parser).
type Node = {
  name: string
  from: number
  to: number
  type: { isError: boolean }
  firstChild: Node | null
  nextSibling: Node | null
}

const children = (n: Node) => {
  const out: Node[] = []
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c)
  return out
}

const UNITS: Record<string, number> = { y: 31_536_000_000, w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000 }
Object.assign(UNITS, { s: 1000, ms: 1 })

/** A Prometheus duration (`5m`, `1h30m`, `250ms`) or a number of seconds (`90`, `1.5`), in ms; undefined if neither. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim()
  if (/^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) {
    const ms = Math.round(Number(t) * 1000)
    return Number.isFinite(ms) ? ms : undefined
  }
  if (!/^(\d+(ms|[ywdhms]))+$/.test(t)) return undefined
  let total = 0
  for (const m of t.matchAll(/(\d+)(ms|[ywdhms])/g)) total += Number(m[1]) * UNITS[m[2]!]!
  return total
}

function unquote(raw: string): string {
  if (raw.startsWith('`')) return raw.slice(1, -1)
  const body = raw.slice(1, -1)
  const asDouble = raw.startsWith("'") ? body.replace(/\\'/g, "'").replace(/"/g, '\\"') : body
  try {
    return JSON.parse(`"${asDouble}"`) as string
  } catch {
    throw badData(`invalid string literal ${raw}`)
  }
}

/** Parses `src`; throws PromError (bad_data) naming the first syntax error or the unsupported feature. */
export function parsePromql(src: string): Expr {
  if (!src.trim()) throw badData('empty query')
  const tree = parser.parse(src)
  let error: { from: number; to: number } | undefined
  tree.iterate({
    enter: (n: { type: { isError: boolean }; from: number; to: number }) => {
      if (error) return false
      if (n.type.isError) error = { from: n.from, to: n.to }
    },
  })
  if (error) {
    const near = src.slice(error.from, Math.max(error.to, error.from + 20)).trim()
    throw badData(`parse error at char ${error.from + 1}: unexpected ${near ? `"${near}"` : 'end of input'}`)
  }
  const text = (n: Node) => src.slice(n.from, n.to)
  const top = tree.topNode as unknown as Node
  const [root] = children(top).filter((c) => c.name !== 'LineComment')
  if (!root) throw badData('empty query')
  return convert(root, text)
}

function labelList(n: Node, text: (n: Node) => string) {
  return children(n)
    .filter((c) => c.name === 'LabelName' || c.name === 'QuotedLabelName' || c.name === 'StringLiteral')
    .map((c) => (c.name === 'LabelName' ? text(c) : unquote(text(c))))
}

function convert(n: Node, text: (n: Node) => string): Expr {
  const kids = children(n)
  switch (n.name) {
    case 'NumberDurationLiteral': {
      const t = text(n).toLowerCase()
      const value = t === 'inf' || t === '+inf' ? Infinity : t === 'nan' ? NaN : Number(t)
      if (Number.isNaN(value) && t !== 'nan') {
        const d = parseDuration(t)
        if (d === undefined) throw badData(`invalid number "${text(n)}"`)
        return { kind: 'number', value: d / 1000 }
      }
      return { kind: 'number', value }
    }
    case 'StringLiteral':
      return { kind: 'string', value: unquote(text(n)) }
    case 'ParenExpr':
      return convert(kids.find((k) => k.name !== '(' && k.name !== ')')!, text)
    case 'UnaryExpr': {
      const op = text(kids[0]!)
      const inner = convert(kids[1]!, text)
      return op === '-' ? { kind: 'neg', expr: inner } : inner
    }
    case 'VectorSelector':
      return { kind: 'selector', matchers: selectorMatchers(n, text), offset: 0 }
    case 'MatrixSelector': {
      const sel = convert(kids[0]!, text)
      if (sel.kind !== 'selector') throw badData('ranges only allowed for vector selectors')
      return { ...sel, range: durationOf(kids[1]!, text) }
    }
    case 'OffsetExpr': {
      const inner = convert(kids[0]!, text)
      if (inner.kind !== 'selector') throw badData('offset modifier must be preceded by a vector or range selector')
      const d = kids[kids.length - 1]!
      const neg = text(d).trim().startsWith('-')
      const ms = durationOf(d, text)
      return { ...inner, offset: neg ? -Math.abs(ms) : ms }
    }
    case 'FunctionCall': {
      const fn = text(kids[0]!)
      if (!(SUPPORTED_FUNCTIONS as readonly string[]).includes(fn)) throw badData(`unsupported function "${fn}"`)
      const body = kids.find((k) => k.name === 'FunctionCallBody')
      const args = body
        ? children(body)
            .filter(isExpr)
            .map((a) => convert(a, text))
        : []
      return { kind: 'call', fn, args }
    }
    case 'AggregateExpr': {
      const op = text(kids[0]!)
      if (!(SUPPORTED_AGGREGATIONS as readonly string[]).includes(op)) throw badData(`unsupported aggregation "${op}"`)
      const body = kids.find((k) => k.name === 'FunctionCallBody')!
      const args = children(body)
        .filter(isExpr)
        .map((a) => convert(a, text))
      const modifier = kids.find((k) => k.name === 'AggregateModifier')
      const grouping = modifier && children(modifier).find((k) => k.name === 'GroupingLabels')
      const labels = grouping ? labelList(grouping, text) : undefined
      const without = modifier ? children(modifier)[0]!.name === 'Without' : false
      const wantArgs = op === 'topk' ? 2 : 1
      if (args.length !== wantArgs)
        throw badData(`wrong number of arguments for aggregate expression provided, expected ${wantArgs}`)
      return {
        kind: 'agg',
        op,
        expr: args[wantArgs - 1]!,
        ...(op === 'topk' ? { param: args[0]! } : {}),
        ...(labels ? (without ? { without: labels } : { by: labels }) : {}),
      }
    }
    case 'BinaryExpr': {
      const [lhsNode, opNode, ...rest] = kids
      const op = text(opNode!)
      if (!(BINARY_OPS as readonly string[]).includes(op)) throw badData(`unsupported binary operator "${op}"`)
      let bool = false
      let on: string[] | undefined
      let ignoring: string[] | undefined
      for (const k of rest.slice(0, -1)) {
        if (k.name === 'BoolModifier') bool = true
        if (k.name === 'MatchingModifierClause') {
          const parts = children(k)
          if (parts.some((p) => p.name === 'GroupLeft' || p.name === 'GroupRight'))
            throw badData('unsupported vector matching "group_left"/"group_right" (only one-to-one matching)')
          if (parts.some((p) => p.name.startsWith('Fill'))) throw badData('unsupported modifier "fill"')
          const labels = labelList(parts.find((p) => p.name === 'GroupingLabels')!, text)
          if (parts[0]!.name === 'On') on = labels
          else ignoring = labels
        }
      }
      if (bool && !isComparison(op)) throw badData('bool modifier can only be used on comparison operators')
      return {
        kind: 'binary',
        op,
        bool,
        lhs: convert(lhsNode!, text),
        rhs: convert(rest[rest.length - 1]!, text),
        ...(on ? { on } : {}),
        ...(ignoring ? { ignoring } : {}),
      }
    }
    case 'SubqueryExpr':
      throw badData('unsupported feature "subquery"')
    case 'StepInvariantExpr':
      throw badData('unsupported feature "@ modifier"')
    default:
      throw badData(`unsupported expression "${text(n)}"`)
  }
}

const isExpr = (n: Node) => !['(', ')', ','].includes(n.name)

function durationOf(n: Node, text: (n: Node) => string): number {
  const raw = text(n).trim().replace(/^-/, '')
  const d = parseDuration(raw)
  if (d === undefined) throw badData(`unsupported duration "${text(n)}" (only literal durations)`)
  return d
}

function selectorMatchers(n: Node, text: (n: Node) => string): Matcher[] {
  const out: Matcher[] = []
  for (const k of children(n)) {
    if (k.name === 'Identifier') out.push({ label: '__name__', op: '=', value: text(k) })
    if (k.name !== 'LabelMatchers') continue
    for (const m of children(k)) {
      if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher') continue
      const parts = children(m)
      const str = parts.filter((p) => p.name === 'StringLiteral')
      const op = text(parts.find((p) => p.name === 'MatchOp')!) as MatchOp
      const label = parts[0]!.name === 'LabelName' ? text(parts[0]!) : '__name__'
      // `{"metric_name"}` (a quoted name alone) is the UTF-8 spelling of a metric name.
      if (m.name === 'QuotedLabelMatcher' && str.length === 1 && !parts.some((p) => p.name === 'MatchOp'))
        out.push({ label: '__name__', op: '=', value: unquote(text(str[0]!)) })
      else
        out.push({
          label: m.name === 'QuotedLabelMatcher' ? unquote(text(str[0]!)) : label,
          op,
          value: unquote(text(str[str.length - 1]!)),
        })
    }
  }
  for (const m of out) {
    const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : undefined
    if (problem) throw badData(`invalid regular expression in matcher ${m.label}${m.op}"${m.value}": ${problem}`)
  }
  if (!out.some((m) => !matchesEmpty(m))) throw badData('vector selector must contain at least one non-empty matcher')
  return out
}

// Whether a matcher would match a missing label: Prometheus refuses selectors made only of those.
const matchesEmpty = (m: Matcher) =>
  (m.op === '=' && m.value === '') ||
  (m.op === '!=' && m.value !== '') ||
  (m.op === '=~' && /^(\.\*|)$/.test(m.value)) ||
  m.op === '!~'
