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

describe('Prometheus text values', () => {
  // The pattern the scanner replaced, as the reference for the grammar (on short tokens only: it
  // backtracks over long digit runs).
  const OLD = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|Inf|inf|NaN|nan)$/
  const oldValue = (text: string) => {
    if (!OLD.test(text)) return undefined
    const lower = text.toLowerCase()
    if (lower.endsWith('inf')) return lower.startsWith('-') ? -Infinity : Infinity
    if (lower.endsWith('nan')) return NaN
    return Number(text)
  }

  it('still reads every form it read before', () => {
    const values = [
      '0',
      '-0',
      '1027',
      '+3',
      '812.5',
      '1.',
      '.5',
      '-.5e-3',
      '1e3',
      '1E+3',
      '-1.5e3',
      '6.02e23',
      '1e-300',
    ]
    const { samples, errors } = parsePrometheusText(values.map((v, i) => `m${i} ${v}`).join('\n'))
    expect(errors).toEqual([])
    expect(samples.map((s) => s.value)).toEqual(values.map(Number))
    const words = parsePrometheusText('a inf\nb -inf\nc +Inf\nd nan\ne -NaN')
    expect(words.errors).toEqual([])
    expect(words.samples.map((s) => s.value)).toEqual([Infinity, -Infinity, Infinity, NaN, NaN])
  })

  it('accepts exactly the tokens the old pattern accepted, with the same value', () => {
    const pieces = ['0', '7', '19', '.', 'e', 'E', '+', '-', 'Inf', 'inf', 'NaN', 'nan', 'INF', 'n', 'x', '_']
    let seed = 42
    const next = (n: number) =>
      Math.floor(((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648) * n)
    const wrong: string[] = []
    for (let k = 0; k < 5_000; k++) {
      let token = ''
      for (let n = 1 + next(6); n > 0; n--) token += pieces[next(pieces.length)]
      const got = parsePrometheusText(`m ${token}`).samples[0]?.value
      if (!Object.is(got, oldValue(token))) wrong.push(token)
    }
    expect(wrong).toEqual([])
    for (const token of [
      'Infinity',
      'INF',
      'nAn',
      '0x1p-2',
      '1_000',
      '1e',
      '1e+',
      '.',
      '+',
      '.e1',
      'e1',
      '--1',
      '1.2.3',
    ])
      expect(parsePrometheusText(`m ${token}`).errors[0]?.message, token).toMatch(/is not a number/)
  })

  it('refuses a 40,000-digit value at once, naming the cap, and reads the lines around it', { timeout: 2000 }, () => {
    const long = '1'.repeat(40_000)
    const { samples, errors } = parsePrometheusText(
      [`before 1`, `huge ${long}`, `huge{a="b"} ${long}x 1700000000000`, `huge ${long}.5e3`, 'after 2'].join('\n'),
    )
    expect(samples.map((s) => [s.name, s.value])).toEqual([
      ['before', 1],
      ['after', 2],
    ])
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4])
    for (const e of errors) expect(e.message).toMatch(/is longer than 64 characters/)
    expect(errors[0]!.message.length).toBeLessThan(120)
  })

  it('reads a value of 64 characters', () => {
    const value = `0.${'1'.repeat(62)}`
    const { samples, errors } = parsePrometheusText(`m ${value}`)
    expect(errors).toEqual([])
    expect(samples[0]!.value).toBe(Number(value))
  })

  it('gives the kinds # TYPE lines declare: counters and histogram/summary parts cumulative, gauges; untyped and junk none', () => {
    const { types, errors } = parsePrometheusText(
      [
        '# TYPE jobs_total counter',
        '# TYPE queue gauge',
        '# TYPE rpc_seconds histogram',
        '# TYPE lag_seconds summary',
        '# TYPE misc untyped',
        '# TYPE weird_total bogus',
        '#TYPE tight_total counter',
        '# HELP jobs_total counter',
        'jobs_total 1',
      ].join('\n'),
    )
    expect(errors).toEqual([])
    expect(Object.fromEntries(types)).toEqual({
      jobs_total: 'counter',
      queue: 'gauge',
      rpc_seconds_count: 'counter',
      rpc_seconds_sum: 'counter',
      rpc_seconds_bucket: 'counter',
      lag_seconds_count: 'counter',
      lag_seconds_sum: 'counter',
      lag_seconds_bucket: 'counter',
      lag_seconds: 'gauge',
      tight_total: 'counter',
    })
  })
})
