/**
 * Evaluates the AST at every step of a range at once: each selector reads its raw points once for
 * the whole span, and every node works on per-step value arrays (undefined where a series has no
 * value at a step). An instant query is a range of one step.
 */
import { badData, type Expr } from './ast.ts'
import { binaryOp } from './binary.ts'
import { bucketQuantile, deltaRate, extrapolatedRate, instantRate, overTime, type Window } from './functions.ts'
import { keepSome, labelsKey, type Labels, type Source, type StepSeries, type Value, withoutName } from './values.ts'

export type { Labels, RawSeries, Source, StepBucket, StepSeries, Value } from './values.ts'

export const LOOKBACK_MS = 5 * 60_000

type Ctx = { steps: number[]; source: Source }

export async function evaluate(expr: Expr, steps: number[], source: Source): Promise<Value> {
  return evalExpr(expr, { steps, source })
}

async function evalExpr(e: Expr, ctx: Ctx): Promise<Value> {
  switch (e.kind) {
    case 'number':
      return { type: 'scalar', values: ctx.steps.map(() => e.value) }
    case 'string':
      throw badData('unsupported expression type "string" (only numbers and vectors)')
    case 'neg': {
      const v = await evalExpr(e.expr, ctx)
      return v.type === 'scalar'
        ? { type: 'scalar', values: v.values.map((x) => -x) }
        : {
            type: 'vector',
            series: v.series.map((s) => ({
              labels: withoutName(s.labels),
              values: s.values.map((x) => (x === undefined ? x : -x)),
            })),
          }
    }
    case 'selector': {
      if (e.range !== undefined) throw badData('range vector selector is only supported as a function argument')
      return { type: 'vector', series: await instantSelector(e, ctx) }
    }
    case 'call':
      return evalCall(e, ctx)
    case 'agg':
      return evalAgg(e, ctx)
    case 'binary': {
      const [l, r] = await Promise.all([evalExpr(e.lhs, ctx), evalExpr(e.rhs, ctx)])
      return binaryOp(e, l, r, ctx.steps.length)
    }
  }
}

async function instantSelector(e: Extract<Expr, { kind: 'selector' }>, ctx: Ctx): Promise<StepSeries[]> {
  const first = ctx.steps[0]! - e.offset
  const last = ctx.steps[ctx.steps.length - 1]! - e.offset
  const raw = await ctx.source.select(e.matchers, first - LOOKBACK_MS + 1, last)
  return raw.map((s) => {
    let j = 0
    const values = ctx.steps.map((t0) => {
      const t = t0 - e.offset
      while (j < s.ts.length && s.ts[j]! <= t) j++
      const i = j - 1 // the newest sample at or before t
      return i >= 0 && s.ts[i]! > t - LOOKBACK_MS ? s.vs[i] : undefined
    })
    return { labels: s.labels, values }
  })
}

/** The window (t - range, t] of each step, for each series of a range selector. */
async function rangeWindows(e: Expr, ctx: Ctx, fn: string) {
  if (e.kind !== 'selector' || e.range === undefined)
    throw badData(`expected type range vector in call to function "${fn}"`)
  const range = e.range
  const offset = e.offset
  const raw = await ctx.source.select(
    e.matchers,
    ctx.steps[0]! - offset - range + 1,
    ctx.steps[ctx.steps.length - 1]! - offset,
  )
  return {
    range,
    offset,
    series: raw.map((s) => {
      let lo = 0
      let hi = 0
      const windows = ctx.steps.map((t0): Window => {
        const t = t0 - offset
        while (hi < s.ts.length && s.ts[hi]! <= t) hi++
        while (lo < hi && s.ts[lo]! <= t - range) lo++
        return { ts: s.ts.slice(lo, hi), vs: s.vs.slice(lo, hi) }
      })
      return { labels: s.labels, windows }
    }),
  }
}

function scalarArg(v: Value, fn: string): number[] {
  if (v.type !== 'scalar') throw badData(`expected type scalar in call to function "${fn}"`)
  return v.values
}

const MATH: Record<string, (x: number) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  round: Math.round,
  sqrt: Math.sqrt,
  exp: Math.exp,
  ln: Math.log,
}

async function evalCall(e: Extract<Expr, { kind: 'call' }>, ctx: Ctx): Promise<Value> {
  const { fn, args } = e
  const arity = (n: number) => {
    if (args.length !== n) throw badData(`expected ${n} argument(s) in call to "${fn}", got ${args.length}`)
  }
  if (fn === 'time') {
    arity(0)
    return { type: 'scalar', values: ctx.steps.map((t) => t / 1000) }
  }
  if (fn === 'vector') {
    arity(1)
    return { type: 'vector', series: [{ labels: {}, values: scalarArg(await evalExpr(args[0]!, ctx), fn) }] }
  }
  if (fn === 'scalar') {
    arity(1)
    const v = await evalExpr(args[0]!, ctx)
    if (v.type !== 'vector') throw badData('expected type instant vector in call to function "scalar"')
    return {
      type: 'scalar',
      values: ctx.steps.map((_, i) => {
        const present = v.series.filter((s) => s.values[i] !== undefined)
        return present.length === 1 ? present[0]!.values[i]! : NaN
      }),
    }
  }
  if (MATH[fn]) {
    arity(1)
    const v = await evalExpr(args[0]!, ctx)
    if (v.type !== 'vector') throw badData(`expected type instant vector in call to function "${fn}"`)
    const f = MATH[fn]!
    return {
      type: 'vector',
      series: v.series.map((s) => ({
        labels: withoutName(s.labels),
        values: s.values.map((x) => (x === undefined ? x : f(x))),
      })),
    }
  }
  if (fn === 'histogram_quantile') {
    arity(2)
    const q = scalarArg(await evalExpr(args[0]!, ctx), fn)
    const v = await evalExpr(args[1]!, ctx)
    if (v.type !== 'vector') throw badData('expected type instant vector in call to function "histogram_quantile"')
    return { type: 'vector', series: histogramQuantile(q, v.series, ctx.steps.length) }
  }
  // The range functions.
  const withParam = fn === 'quantile_over_time'
  arity(withParam ? 2 : 1)
  const q = withParam ? scalarArg(await evalExpr(args[0]!, ctx), fn) : undefined
  const fromRollups = await overTimeFromBuckets(fn, args[withParam ? 1 : 0]!, ctx, q)
  if (fromRollups) return fromRollups
  const { range, offset, series } = await rangeWindows(args[withParam ? 1 : 0]!, ctx, fn)
  // Delta series (each sample an interval's increase) take the sum of the window for these three.
  const rated = fn === 'rate' || fn === 'increase' || fn === 'irate'
  const kinds =
    rated && ctx.source.kinds && series.length
      ? await ctx.source.kinds([...new Set(series.map((s) => s.labels.__name__ ?? ''))])
      : undefined
  const out = series.map((s) => ({
    labels: withoutName(s.labels),
    values: s.windows.map((w, i) => {
      const end = ctx.steps[i]! - offset
      if (rated && kinds?.get(s.labels.__name__ ?? '') === 'delta')
        return deltaRate(fn as 'rate' | 'increase' | 'irate', w, range)
      switch (fn) {
        case 'rate':
          return extrapolatedRate(w, end - range, end, true, true)
        case 'increase':
          return extrapolatedRate(w, end - range, end, true, false)
        case 'delta':
          return extrapolatedRate(w, end - range, end, false, false)
        case 'irate':
          return instantRate(w)
        default:
          return overTime(fn, w, q?.[i])
      }
    }),
  }))
  // last_over_time keeps the metric name, as in Prometheus.
  if (fn === 'last_over_time') for (const [i, s] of out.entries()) s.labels = series[i]!.labels
  return { type: 'vector', series: out.filter((s) => s.values.some((x) => x !== undefined)) }
}

/**
 * `<agg>_over_time(x[R])` from step buckets when every window is one whole bucket: R a whole number
 * of minutes and every evaluation time (less the offset) a multiple of R, as Grafana's aligned
 * queries with `[$__interval]` are. Then a long range reads minute, hour or day rollups (also past
 * the raw points' retention) instead of every raw point. The bucket is [t − R, t) where the raw
 * window is (t − R, t]: only a sample exactly on a boundary lands in the other window.
 */
async function overTimeFromBuckets(
  fn: string,
  arg: Expr,
  ctx: Ctx,
  q: number[] | undefined,
): Promise<Value | undefined> {
  if (!ctx.source.buckets || !fn.endsWith('_over_time') || arg.kind !== 'selector' || arg.range === undefined)
    return undefined
  const { range, offset } = arg
  if (range % 60_000 !== 0 || ctx.steps.some((t) => (t - offset) % range !== 0)) return undefined
  const first = ctx.steps[0]! - offset - range
  const list = await ctx.source.buckets(arg.matchers, first, ctx.steps[ctx.steps.length - 1]! - offset, range)
  const series = list.map((s) => ({
    labels: fn === 'last_over_time' ? s.labels : withoutName(s.labels),
    values: ctx.steps.map((t, i) => {
      const b = s.at.get(t - offset - range)
      if (!b?.count) return undefined
      switch (fn) {
        case 'count_over_time':
          return b.count
        case 'sum_over_time':
          return b.sum
        case 'avg_over_time':
          return b.sum / b.count
        case 'min_over_time':
          return b.min
        case 'max_over_time':
          return b.max
        case 'last_over_time':
          return b.last
        default:
          return b.quantile(q?.[i] ?? NaN)
      }
    }),
  }))
  return { type: 'vector', series: keepSome(series) }
}

function histogramQuantile(q: number[], input: StepSeries[], n: number): StepSeries[] {
  const groups = new Map<string, { labels: Labels; members: { le: number; values: (number | undefined)[] }[] }>()
  for (const s of input) {
    const leText = s.labels.le
    if (leText === undefined) continue
    const le = leText === '+Inf' || leText === 'Inf' ? Infinity : Number(leText)
    if (Number.isNaN(le)) continue
    const { le: _, ...rest } = withoutName(s.labels)
    const key = labelsKey(rest)
    const g = groups.get(key) ?? { labels: rest, members: [] }
    g.members.push({ le, values: s.values })
    groups.set(key, g)
  }
  return [...groups.values()].map((g) => ({
    labels: g.labels,
    values: Array.from({ length: n }, (_, i) => {
      const buckets = g.members.filter((m) => m.values[i] !== undefined).map((m) => ({ le: m.le, count: m.values[i]! }))
      return buckets.length ? bucketQuantile(q[i]!, buckets) : undefined
    }),
  }))
}

function groupLabels(l: Labels, by?: string[], without?: string[]): Labels {
  if (by) return Object.fromEntries(by.filter((k) => l[k] !== undefined && l[k] !== '').map((k) => [k, l[k]!]))
  const out = withoutName(l)
  for (const k of without ?? []) delete out[k]
  return without ? out : {}
}

async function evalAgg(e: Extract<Expr, { kind: 'agg' }>, ctx: Ctx): Promise<Value> {
  const v = await evalExpr(e.expr, ctx)
  if (v.type !== 'vector') throw badData(`expected type instant vector in aggregation expression "${e.op}"`)
  const n = ctx.steps.length
  if (e.op === 'topk') {
    const k = scalarArg(await evalExpr(e.param!, ctx), 'topk')
    const out = v.series.map((s) => ({ labels: s.labels, values: new Array<number | undefined>(n).fill(undefined) }))
    const groupOf = v.series.map((s) => labelsKey(groupLabels(s.labels, e.by, e.without)))
    for (let i = 0; i < n; i++) {
      const byGroup = new Map<string, number[]>()
      v.series.forEach((s, j) => {
        if (s.values[i] === undefined) return
        const list = byGroup.get(groupOf[j]!) ?? []
        list.push(j)
        byGroup.set(groupOf[j]!, list)
      })
      for (const members of byGroup.values()) {
        members.sort((a, b) => desc(v.series[a]!.values[i]!, v.series[b]!.values[i]!))
        for (const j of members.slice(0, Math.max(0, Math.floor(k[i]!)))) out[j]!.values[i] = v.series[j]!.values[i]
      }
    }
    return { type: 'vector', series: out.filter((s) => s.values.some((x) => x !== undefined)) }
  }
  const groups = new Map<string, { labels: Labels; members: StepSeries[] }>()
  for (const s of v.series) {
    const labels = groupLabels(s.labels, e.by, e.without)
    const key = labelsKey(labels)
    const g = groups.get(key) ?? { labels, members: [] }
    g.members.push(s)
    groups.set(key, g)
  }
  const series = [...groups.values()].map((g) => ({
    labels: g.labels,
    values: Array.from({ length: n }, (_, i) => {
      const xs = g.members.map((m) => m.values[i]).filter((x): x is number => x !== undefined)
      if (!xs.length) return undefined
      switch (e.op) {
        case 'sum':
          return xs.reduce((a, b) => a + b, 0)
        case 'avg':
          return xs.reduce((a, b) => a + b, 0) / xs.length
        case 'count':
          return xs.length
        case 'min':
          return xs.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a))
        default:
          return xs.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a))
      }
    }),
  }))
  return { type: 'vector', series: series.filter((s) => s.values.some((x) => x !== undefined)) }
}

// NaN sorts last, as Prometheus' topk does.
const desc = (a: number, b: number) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : b - a)
