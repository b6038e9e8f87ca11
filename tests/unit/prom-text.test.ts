import { describe, expect, it } from 'vitest'
import { parsePrometheusText } from '../../app/modules/metrics/prom-text.ts'

describe('Prometheus text format', () => {
  it('reads counters, gauges, histograms and timestamps', () => {
    const text = [
      '# HELP agent_requests_total Requests handled',
      '# TYPE agent_requests_total counter',
      'agent_requests_total{agent="planner",status="ok"} 1027 1700000000000',
      'agent_requests_total{agent="planner",status="error"} 3',
      '# TYPE llm_latency_ms histogram',
      'llm_latency_ms_bucket{le="100"} 5',
      'llm_latency_ms_bucket{le="+Inf"} 7',
      'llm_latency_ms_sum 812.5',
      'llm_latency_ms_count 7',
      'up 1',
      'weird{path="a\\"b\\\\c\\nd"} -1.5e3',
      '',
    ].join('\n')
    const { samples, errors } = parsePrometheusText(text)
    expect(errors).toEqual([])
    expect(samples).toHaveLength(8)
    expect(samples[0]).toEqual({
      name: 'agent_requests_total',
      labels: { agent: 'planner', status: 'ok' },
      value: 1027,
      ts: 1700000000000,
    })
    expect(samples[3]).toMatchObject({ name: 'llm_latency_ms_bucket', labels: { le: '+Inf' }, value: 7 })
    expect(samples[7]).toEqual({ name: 'weird', labels: { path: 'a"b\\c\nd' }, value: -1500, ts: undefined })
  })

  it('names each bad line by number', () => {
    const { errors } = parsePrometheusText(
      ['ok 1', '9bad 1', 'x{a=1} 2', 'y abc', 'z 1 2 3', 'w{__name__="q"} 1'].join('\n'),
    )
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6])
    expect(errors[2]!.message).toMatch(/not a number/)
  })

  it('keeps NaN and Inf as values for the caller to decide', () => {
    const { samples } = parsePrometheusText('a NaN\nb +Inf\nc -Inf')
    expect(Number.isNaN(samples[0]!.value)).toBe(true)
    expect(samples[1]!.value).toBe(Infinity)
    expect(samples[2]!.value).toBe(-Infinity)
  })
})
