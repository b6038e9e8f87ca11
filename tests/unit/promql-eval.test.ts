import { describe, expect, it } from 'vitest'
import { compileMatchers } from '../../app/lib/matchers.ts'
import {
  bucketQuantile,
  evaluate,
  extrapolatedRate,
  instantRate,
  parsePromql,
  PromError,
  quantileOf,
  type RawSeries,
  type Source,
  type Value,
} from '../../app/modules/promql/index.ts'

const S = 1000
// Hand-made series: name, labels and [seconds, value] samples.
function series(name: string, labels: Record<string, string>, samples: [number, number][]): RawSeries {
  return { labels: { __name__: name, ...labels }, ts: samples.map(([t]) => t * S), vs: samples.map(([, v]) => v) }
}
const memory = (all: RawSeries[]): Source => ({
  async select(matchers, from, to) {
    const test = compileMatchers(matchers)
    return all
      .filter((s) => test(s.labels))
      .map((s) => {
        const keep = s.ts.map((t, i) => [t, s.vs[i]!] as const).filter(([t]) => t >= from && t <= to)
        return { labels: s.labels, ts: keep.map(([t]) => t), vs: keep.map(([, v]) => v) }
      })
  },
})

const data = [
  // A counter that resets between 45 s and 60 s.
  series('req_total', { job: 'planner', code: '200' }, [
    [15, 10],
    [30, 20],
    [45, 5],
    [60, 15],
  ]),
  series('req_total', { job: 'coder', code: '200' }, [
    [40, 100],
    [50, 110],
    [60, 120],
  ]),
  series('req_total', { job: 'coder', code: '500' }, [
    [30, 1],
    [45, 11],
    [60, 21],
  ]),
  series('temp', { room: 'a' }, [
    [30, 10],
    [60, 4],
  ]),
  series('lat_bucket', { le: '0.1' }, [[60, 10]]),
  series('lat_bucket', { le: '0.5' }, [[60, 30]]),
  series('lat_bucket', { le: '1' }, [[60, 40]]),
  series('lat_bucket', { le: '+Inf' }, [[60, 40]]),
  series('old', {}, [[0, 1]]),
]
const src = memory(data)

async function at(query: string, t = 60) {
  return evaluate(parsePromql(query), [t * S], src)
}
/** The instant result as {labels-as-text: value}. */
function flat(v: Value): Record<string, number> {
  if (v.type === 'scalar') return { scalar: v.values[0]! }
  return Object.fromEntries(
    v.series
      .filter((s) => s.values[0] !== undefined)
      .map((s) => [
        Object.entries(s.labels)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, x]) => `${k}=${x}`)
          .join(','),
        s.values[0]!,
      ]),
  )
}
async function refused(query: string, t = 60) {
  try {
    await at(query, t)
  } catch (e) {
    expect(e).toBeInstanceOf(PromError)
    return (e as PromError).message
  }
  throw new Error(`${query} was not refused`)
}

describe('rate, increase and delta (Prometheus extrapolation)', () => {
  it('a counter reset adds the value before it; the start is extrapolated to the window edge', () => {
    // (15-10) + 20 (the reset) = 25 over 45 s sampled, stretched by 15 s to the start (< 1.1 × 15 s gap).
    const w = { ts: [15, 30, 45, 60].map((t) => t * S), vs: [10, 20, 5, 15] }
    expect(extrapolatedRate(w, 0, 60 * S, true, false)).toBeCloseTo((25 * 60) / 45, 10)
    expect(extrapolatedRate(w, 0, 60 * S, true, true)).toBeCloseTo((25 * 60) / 45 / 60, 10)
  })
  it('a gap to the start longer than 1.1 average intervals extrapolates half an interval', () => {
    const w = { ts: [40, 50, 60].map((t) => t * S), vs: [100, 110, 120] }
    expect(extrapolatedRate(w, 0, 60 * S, true, false)).toBeCloseTo(25, 10) // 20 × (20 + 5) / 20
  })
  it('a counter is not extrapolated below zero', () => {
    const w = { ts: [30, 45, 60].map((t) => t * S), vs: [1, 11, 21] }
    // Half an interval would be 7.5 s, but the counter was zero 1.5 s before the first sample.
    expect(extrapolatedRate(w, 0, 60 * S, true, false)).toBeCloseTo(21, 10)
  })
  it('delta treats a drop as a drop (a gauge)', () => {
    const w = { ts: [30, 60].map((t) => t * S), vs: [10, 4] }
    expect(extrapolatedRate(w, 0, 60 * S, false, false)).toBeCloseTo(-12, 10)
  })
  it('fewer than two samples give no value', () => {
    expect(extrapolatedRate({ ts: [1], vs: [1] }, 0, 60 * S, true, true)).toBeUndefined()
    expect(instantRate({ ts: [1], vs: [1] })).toBeUndefined()
  })
  it('irate uses the last two samples; a drop is a reset', () => {
    expect(instantRate({ ts: [0, 15 * S, 30 * S], vs: [0, 5, 15] })).toBeCloseTo(10 / 15, 10)
    expect(instantRate({ ts: [0, 15 * S], vs: [20, 5] })).toBeCloseTo(5 / 15, 10)
  })
  it('through the evaluator: rate and increase by series, without the metric name', async () => {
    expect(flat(await at('increase(req_total[1m])'))).toEqual({
      'code=200,job=planner': expect.closeTo((25 * 60) / 45, 9),
      'code=200,job=coder': expect.closeTo(25, 9),
      'code=500,job=coder': expect.closeTo(21, 9),
    })
    expect(flat(await at('rate(req_total{job="coder",code="200"}[1m])'))['code=200,job=coder']).toBeCloseTo(25 / 60, 9)
    expect(flat(await at('delta(temp[1m])'))).toEqual({ 'room=a': expect.closeTo(-12, 9) })
    expect(flat(await at('irate(req_total{job="planner"}[1m])'))).toEqual({
      'code=200,job=planner': expect.closeTo(10 / 15, 9),
    })
  })
})

describe('over_time functions and quantiles', () => {
  it('quantile interpolates between ranks', () => {
    expect(quantileOf(0.5, [4, 1, 3, 2])).toBe(2.5)
    expect(quantileOf(0.9, [1, 2, 3, 4])).toBeCloseTo(3.7, 10)
    expect(quantileOf(-1, [1])).toBe(-Infinity)
    expect(quantileOf(2, [1])).toBe(Infinity)
  })
  it('avg/min/max/sum/count/last/quantile over a window', async () => {
    const q = (fn: string) => at(`${fn}(req_total{job="planner"}[1m])`).then((v) => Object.values(flat(v))[0])
    expect(await q('avg_over_time')).toBe(12.5)
    expect(await q('min_over_time')).toBe(5)
    expect(await q('max_over_time')).toBe(20)
    expect(await q('sum_over_time')).toBe(50)
    expect(await q('count_over_time')).toBe(4)
    expect(await q('last_over_time')).toBe(15)
    expect(Object.values(flat(await at('quantile_over_time(0.5, req_total{job="planner"}[1m])')))[0]).toBe(12.5)
  })
  it('the window is (t - range, t]: a sample exactly at t - range is out', async () => {
    expect(Object.values(flat(await at('count_over_time(req_total{job="planner"}[45s])')))[0]).toBe(3)
  })
})

describe('histogram_quantile', () => {
  const buckets = [
    { le: 0.1, count: 10 },
    { le: 0.5, count: 30 },
    { le: 1, count: 40 },
    { le: Infinity, count: 40 },
  ]
  it('interpolates inside the bucket holding the rank', () => {
    expect(bucketQuantile(0.5, buckets)).toBeCloseTo(0.3, 10)
    expect(bucketQuantile(0.95, buckets)).toBeCloseTo(0.9, 10)
    expect(bucketQuantile(0.05, buckets)).toBeCloseTo(0.02, 10) // rank 2 of the first bucket's 10, from 0
  })
  it('NaN without a +Inf bucket or without observations', () => {
    expect(bucketQuantile(0.5, buckets.slice(0, 3))).toBeNaN()
    expect(
      bucketQuantile(0.5, [
        { le: 1, count: 0 },
        { le: Infinity, count: 0 },
      ]),
    ).toBeNaN()
  })
  it('through the evaluator, grouped by the labels other than le', async () => {
    expect(flat(await at('histogram_quantile(0.5, lat_bucket)'))).toEqual({ '': expect.closeTo(0.3, 9) })
  })
})

describe('selectors', () => {
  it('= != =~ !~, regexes anchored at both ends', async () => {
    expect(Object.keys(flat(await at('req_total{job=~"plan"}')))).toEqual([])
    expect(Object.keys(flat(await at('req_total{job=~"plan.*"}')))).toEqual(['__name__=req_total,code=200,job=planner'])
    expect(Object.keys(flat(await at('req_total{job!~"plan.*",code!="500"}')))).toEqual([
      '__name__=req_total,code=200,job=coder',
    ])
    expect(Object.keys(flat(await at('{__name__="temp"}')))).toEqual(['__name__=temp,room=a'])
  })
  it('an instant selector looks back 5 minutes for the newest sample', async () => {
    expect(flat(await at('old', 299))).toEqual({ '__name__=old': 1 })
    expect(flat(await at('old', 300))).toEqual({})
  })
  it('offset shifts the evaluation time back', async () => {
    expect(flat(await at('temp offset 30s', 60))).toEqual({ '__name__=temp,room=a': 10 })
    expect(Object.values(flat(await at('count_over_time(temp[30s] offset 30s)', 60)))).toEqual([1])
  })
  it('a range query evaluates each step', async () => {
    const v = await evaluate(parsePromql('temp'), [20 * S, 40 * S, 60 * S], src)
    expect(v.type === 'vector' && v.series[0]!.values).toEqual([undefined, 10, 4])
  })
})

describe('aggregations', () => {
  it('sum/avg/min/max/count by and without', async () => {
    expect(flat(await at('sum by (job) (req_total)'))).toEqual({ 'job=planner': 15, 'job=coder': 141 })
    expect(flat(await at('sum without (code) (req_total)'))).toEqual({ 'job=planner': 15, 'job=coder': 141 })
    expect(flat(await at('sum(req_total)'))).toEqual({ '': 156 })
    expect(flat(await at('avg by (code) (req_total)'))).toEqual({ 'code=200': 67.5, 'code=500': 21 })
    expect(flat(await at('min(req_total)'))).toEqual({ '': 15 })
    expect(flat(await at('max(req_total)'))).toEqual({ '': 120 })
    expect(flat(await at('count by (job) (req_total)'))).toEqual({ 'job=planner': 1, 'job=coder': 2 })
  })
  it('topk keeps the k largest series with their labels', async () => {
    expect(Object.values(flat(await at('topk(2, req_total)')))).toEqual([120, 21])
    expect(flat(await at('topk by (job) (1, req_total)'))).toEqual({
      '__name__=req_total,code=200,job=planner': 15,
      '__name__=req_total,code=200,job=coder': 120,
    })
  })
})

describe('binary operators', () => {
  it('scalar arithmetic and precedence', async () => {
    expect(flat(await at('1 + 2 * 3 - -1'))).toEqual({ scalar: 8 })
    expect(flat(await at('2 ^ 3 % 5'))).toEqual({ scalar: 3 })
    expect(flat(await at('1 > bool 2'))).toEqual({ scalar: 0 })
  })
  it('vector and scalar: arithmetic drops the name, a comparison filters', async () => {
    expect(flat(await at('temp * 2'))).toEqual({ 'room=a': 8 })
    expect(flat(await at('10 - temp'))).toEqual({ 'room=a': 6 })
    expect(flat(await at('req_total > 20'))).toEqual({
      '__name__=req_total,code=200,job=coder': 120,
      '__name__=req_total,code=500,job=coder': 21,
    })
    expect(Object.values(flat(await at('req_total > bool 20')))).toEqual([0, 1, 1])
  })
  it('vector and vector with on / ignoring (an error ratio)', async () => {
    expect(flat(await at('req_total{code="500"} / ignoring(code) req_total{code="200"}'))).toEqual({
      'job=coder': 21 / 120,
    })
    expect(flat(await at('sum by (job) (req_total{code="500"}) / on(job) sum by (job) (req_total)'))).toEqual({
      'job=coder': 21 / 141,
    })
    // Without matching labels in common nothing matches.
    expect(flat(await at('req_total{code="500"} / req_total{code="200"}'))).toEqual({})
  })
  it('many-to-one without group_left is an execution error', async () => {
    expect(await refused('sum(req_total) + on() req_total')).toMatch(/many-to-many|many-to-one|duplicate/)
  })
})

describe('what is refused, by name', () => {
  it.each([
    ['predict_linear(temp[1m], 60)', 'unsupported function "predict_linear"'],
    ['temp[5m:1m]', 'unsupported feature "subquery"'],
    ['temp @ 100', 'unsupported feature "@ modifier"'],
    ['temp and temp', 'unsupported binary operator "and"'],
    ['stddev(temp)', 'unsupported aggregation "stddev"'],
    ['temp / on() group_left temp', 'group_left'],
    ['1 > 2', 'comparisons between scalars must use BOOL modifier'],
    ['temp[1m]', 'range vector selector is only supported as a function argument'],
    ['rate(temp)', 'expected type range vector in call to function "rate"'],
    ['{job=""}', 'vector selector must contain at least one non-empty matcher'],
    ['"text"', 'unsupported expression type "string"'],
    ['sum(temp', 'parse error at char'],
    ['', 'empty query'],
    ['temp{job=~"(a"}', 'invalid regular expression'],
  ])('%s', async (query, message) => {
    expect(await refused(query)).toContain(message)
  })
})
