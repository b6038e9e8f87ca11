/**
 * The OTLP metrics mapping alone (app/modules/metrics/otlp/): names and labels by the documented
 * rule, quantiles of explicit and exponential buckets, summaries, and how a cumulative GenAI stream
 * is turned into increments across exports, resets and a Homeostat restart.
 */
import { describe, expect, it } from 'vitest'
import { boundedMap } from '../../app/lib/bounded-map.ts'
import type { OtlpPoint } from '../../app/modules/metrics/otlp/decode.ts'
import { labelsOf, metricName } from '../../app/modules/metrics/otlp/labels.ts'
import { createDeltaTracker, samplesOf } from '../../app/modules/metrics/otlp/map.ts'

const T0 = 1_800_000_000_000
const base = { unit: '', attributes: {}, resource: {}, scope: { name: '', version: '' }, ts: T0, start: T0 - 1000 }
const tracker = (startedAt = T0 - 10_000) => createDeltaTracker(boundedMap(100), startedAt)
const FAR = T0 + 600_000

describe('names and labels', () => {
  it('maps names and attribute keys onto Prometheus characters', () => {
    expect(metricName('http.server.request.duration')).toBe('http_server_request_duration')
    expect(metricName('9lives')).toBe('_9lives')
    expect(metricName('')).toBeUndefined()
    expect(metricName('x'.repeat(201))).toBeUndefined()
  })

  it('takes job, instance, homeostat.label.* and the scope, the point attributes winning', () => {
    const l = labelsOf({
      resource: {
        'service.name': 'api',
        'service.namespace': 'shop',
        'service.instance.id': 'i-1',
        'host.name': 'box',
        'homeostat.label.team': 'core',
      },
      scope: { name: 'lib', version: '2' },
      attributes: { 'http.route': '/x', team: 'edge' },
    })
    expect(l).toEqual({
      labels: {
        job: 'shop/api',
        instance: 'i-1',
        team: 'edge',
        otel_scope_name: 'lib',
        otel_scope_version: '2',
        http_route: '/x',
      },
    })
  })
})

describe('samples of points', () => {
  it('names monotonic sums _total once, keeps gauges and other sums as sent', () => {
    const m = samplesOf(
      [
        { ...base, metric: 'a.count', type: 'sum', value: 3, temporality: 'delta', monotonic: true },
        { ...base, metric: 'b_total', type: 'sum', value: 4, temporality: 'cumulative', monotonic: true },
        { ...base, metric: 'c', type: 'sum', value: -2, temporality: 'cumulative', monotonic: false },
        { ...base, metric: 'd', type: 'gauge', value: 1.5 },
      ],
      tracker(),
      FAR,
    )
    expect(m.samples.map((s) => [s.name, s.value])).toEqual([
      ['a_count_total', 3],
      ['b_total', 4],
      ['c', -2],
      ['d', 1.5],
    ])
  })

  it('gives exponential histograms quantiles at their buckets and summaries their own', () => {
    const exp: OtlpPoint = {
      ...base,
      metric: 'lat',
      type: 'exponential',
      temporality: 'delta',
      count: 10,
      sum: 40,
      scale: 0,
      zeroCount: 0,
      // Scale 0: bucket 2 is (4, 8], counted at 4√2.
      positive: { offset: 2, counts: [10] },
      negative: { offset: 0, counts: [] },
    }
    const summary: OtlpPoint = {
      ...base,
      metric: 'sum.mary',
      type: 'summary',
      count: 2,
      sum: 3,
      quantiles: [{ quantile: 0.5, value: 1.25 }],
    }
    const m = samplesOf([exp, summary], tracker(), FAR)
    const q = m.samples.find((s) => s.name === 'lat' && s.labels.quantile === '0.5')!
    expect(q.value).toBeCloseTo(4 * Math.SQRT2, 1)
    expect(m.samples.find((s) => s.name === 'sum_mary')).toMatchObject({ labels: { quantile: '0.5' }, value: 1.25 })
    expect(m.samples.find((s) => s.name === 'sum_mary_count')?.value).toBe(2)
  })

  it('rejects points from the future and GenAI metrics of another shape, naming why', () => {
    const m = samplesOf(
      [
        { ...base, metric: 'late', type: 'gauge', value: 1, ts: FAR + 1 },
        { ...base, metric: 'gen_ai.client.token.usage', type: 'gauge', value: 1 },
        {
          ...base,
          metric: 'gen_ai.client.token.usage',
          type: 'histogram',
          temporality: 'delta',
          count: 1,
          sum: 5,
          bounds: [],
          counts: [1],
          attributes: { 'gen_ai.token.type': 'reasoning' },
        },
      ],
      tracker(),
      FAR,
    )
    expect(m.rejected).toBe(3)
    expect(m.problems).toEqual([
      'late: timeUnixNano is more than 10 minutes in the future',
      'gen_ai.client.token.usage: must be a histogram (the GenAI semantic conventions), not a gauge',
      'gen_ai.client.token.usage: gen_ai.token.type must be input or output',
    ])
  })
})

describe('cumulative GenAI streams', () => {
  it('counts what changed since the previous export, and all of it after a reset', () => {
    const t = tracker()
    const p = { start: T0 - 1000, count: 2, sum: 100 }
    expect(t.increment('k', p)).toEqual({ count: 2, sum: 100 })
    expect(t.increment('k', { ...p, count: 5, sum: 160 })).toEqual({ count: 3, sum: 60 })
    // The client restarted: a new start time.
    expect(t.increment('k', { start: T0, count: 1, sum: 7 })).toEqual({ count: 1, sum: 7 })
    // A count that went down is a reset too.
    expect(t.increment('k', { start: T0, count: 0, sum: 0 })).toEqual({ count: 0, sum: 0 })
  })

  it('takes only a baseline from a stream that began before this receiver started', () => {
    const t = tracker(T0)
    expect(t.increment('old', { start: T0 - 60_000, count: 50, sum: 9000 })).toBeNull()
    expect(t.increment('old', { start: T0 - 60_000, count: 52, sum: 9100 })).toEqual({ count: 2, sum: 100 })
  })

  it('writes tokens as increments of a cumulative histogram', () => {
    const t = tracker()
    const point = (sum: number, count: number): OtlpPoint => ({
      ...base,
      metric: 'gen_ai.client.token.usage',
      type: 'histogram',
      temporality: 'cumulative',
      count,
      sum,
      bounds: [],
      counts: [count],
      attributes: { 'gen_ai.token.type': 'output', 'gen_ai.request.model': 'm' },
      resource: { 'service.name': 'svc' },
    })
    const labels = { model: 'm', component: 'svc', kind: 'completion' }
    expect(samplesOf([point(100, 1)], t, FAR).samples).toEqual([
      { name: 'llm_tokens_total', labels, value: 100, ts: T0, key: `llm_tokens_total\u0000${JSON.stringify(labels)}` },
    ])
    expect(samplesOf([point(130, 2)], t, FAR).samples[0]?.value).toBe(30)
    // Nothing new: no point.
    expect(samplesOf([point(130, 2)], t, FAR).samples).toEqual([])
  })
})
