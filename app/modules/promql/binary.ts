/** The binary operators between scalars and instant vectors. */
import { badData, type Expr, isComparison, PromError } from './ast.ts'
import { keepSome, labelsKey, type Labels, type StepSeries, type Value, withoutName } from './values.ts'

function arith(op: string, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b
    case '-':
      return a - b
    case '*':
      return a * b
    case '/':
      return a / b
    case '%':
      return a % b
    case '^':
      return a ** b
    case '==':
      return a === b ? 1 : 0
    case '!=':
      return a !== b ? 1 : 0
    case '>':
      return a > b ? 1 : 0
    case '<':
      return a < b ? 1 : 0
    case '>=':
      return a >= b ? 1 : 0
    default:
      return a <= b ? 1 : 0
  }
}

/** `l op r` for each step (`n` steps), as Prometheus: filtering comparisons, `bool`, one-to-one matching. */
export function binaryOp(e: Extract<Expr, { kind: 'binary' }>, l: Value, r: Value, n: number): Value {
  const cmp = isComparison(e.op)
  // A comparison without `bool` filters: it keeps the vector side's value where true.
  const combine = (a: number, b: number, keep: number): number | undefined =>
    cmp && !e.bool ? (arith(e.op, a, b) ? keep : undefined) : arith(e.op, a, b)
  if (l.type === 'scalar' && r.type === 'scalar') {
    if (cmp && !e.bool) throw badData('comparisons between scalars must use BOOL modifier')
    return { type: 'scalar', values: l.values.map((a, i) => arith(e.op, a, r.values[i]!)) }
  }
  if (e.on || e.ignoring) {
    if (l.type === 'scalar' || r.type === 'scalar')
      throw badData('vector matching only allowed between instant vectors')
  }
  const dropName = !cmp || e.bool
  if (l.type === 'vector' && r.type === 'scalar') {
    return {
      type: 'vector',
      series: keepSome(
        l.series.map((s) => ({
          labels: dropName ? withoutName(s.labels) : s.labels,
          values: s.values.map((a, i) => (a === undefined ? a : combine(a, r.values[i]!, a))),
        })),
      ),
    }
  }
  if (l.type === 'scalar' && r.type === 'vector') {
    return {
      type: 'vector',
      series: keepSome(
        r.series.map((s) => ({
          labels: dropName ? withoutName(s.labels) : s.labels,
          values: s.values.map((b, i) => (b === undefined ? b : combine(l.values[i]!, b, b))),
        })),
      ),
    }
  }
  if (l.type !== 'vector' || r.type !== 'vector') throw badData('unexpected operand types')
  // One-to-one matching on the `on` labels, or on all labels but `ignoring` and the metric name.
  const signature = (labels: Labels) => {
    if (e.on) return labelsKey(Object.fromEntries(e.on.filter((k) => labels[k]).map((k) => [k, labels[k]!])))
    const rest = withoutName(labels)
    for (const k of e.ignoring ?? []) delete rest[k]
    return labelsKey(rest)
  }
  const right = new Map<string, StepSeries[]>()
  for (const s of r.series) {
    const key = signature(s.labels)
    right.set(key, [...(right.get(key) ?? []), s])
  }
  const out: StepSeries[] = []
  const seen = new Map<string, StepSeries>()
  for (const ls of l.series) {
    const matches = right.get(signature(ls.labels))
    if (!matches) continue
    let labels = dropName ? withoutName(ls.labels) : { ...ls.labels }
    if (e.on) labels = Object.fromEntries(e.on.filter((k) => labels[k]).map((k) => [k, labels[k]!]))
    else for (const k of e.ignoring ?? []) delete labels[k]
    const values = Array.from({ length: n }, (_, i) => {
      const a = ls.values[i]
      if (a === undefined) return undefined
      const present = matches.filter((m) => m.values[i] !== undefined)
      if (present.length > 1)
        throw new PromErrorExec(
          'found duplicate series for the match group on the right hand-side of the operation; many-to-many matching not allowed',
        )
      return present.length ? combine(a, present[0]!.values[i]!, a) : undefined
    })
    const key = labelsKey(labels)
    const prior = seen.get(key)
    if (prior) {
      for (let i = 0; i < n; i++)
        if (values[i] !== undefined) {
          if (prior.values[i] !== undefined)
            throw new PromErrorExec(
              'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
            )
          prior.values[i] = values[i]
        }
      continue
    }
    const s = { labels, values }
    seen.set(key, s)
    out.push(s)
  }
  return { type: 'vector', series: keepSome(out) }
}

class PromErrorExec extends PromError {
  constructor(message: string) {
    super('execution', message)
  }
}
