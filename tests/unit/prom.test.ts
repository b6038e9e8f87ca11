import { describe, expect, it } from 'vitest'
import { createRegistry } from '../../app/lib/prom.ts'

const lines = (text: string) => text.split('\n')

describe('prometheus registry', () => {
  it('renders a counter with HELP, TYPE and one line per label set', () => {
    const r = createRegistry()
    const c = r.counter('http_requests_total', 'Requests')
    c.inc({ method: 'GET', route: '/health', status: '200' })
    c.inc({ route: '/health', status: '200', method: 'GET' }, 2) // same labels, other order: same series
    c.inc({ method: 'POST', route: '/login', status: '303' })
    const text = r.render()
    expect(text.endsWith('\n')).toBe(true)
    expect(lines(text)).toEqual([
      '# HELP http_requests_total Requests',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="GET",route="/health",status="200"} 3',
      'http_requests_total{method="POST",route="/login",status="303"} 1',
      '',
    ])
    expect(c.get({ status: '200', method: 'GET', route: '/health' })).toBe(3)
    expect(c.get({ method: 'DELETE' })).toBe(0)
  })

  it('renders a renamed family under its deprecated name too, after every current one, only with legacy names on', () => {
    const build = (legacyNames: boolean) => {
      const r = createRegistry({ legacyNames })
      r.counter('homeostat_ticks_total', 'Ticks', { deprecated: 'ticks_total' }).inc({ job: 'a' }, 2)
      r.gauge('homeostat_up', 'Up', () => [{ value: 1 }])
      return r
    }
    expect(lines(build(true).render())).toEqual([
      '# HELP homeostat_ticks_total Ticks',
      '# TYPE homeostat_ticks_total counter',
      'homeostat_ticks_total{job="a"} 2',
      '# HELP homeostat_up Up',
      '# TYPE homeostat_up gauge',
      'homeostat_up 1',
      '# HELP ticks_total Deprecated: renamed homeostat_ticks_total; this name goes in the next release. Ticks',
      '# TYPE ticks_total counter',
      'ticks_total{job="a"} 2',
      '',
    ])
    expect(build(false).render()).not.toContain('\nticks_total')
    expect(build(true).names()).toEqual([
      { name: 'homeostat_ticks_total', type: 'counter', deprecated: 'ticks_total' },
      { name: 'homeostat_up', type: 'gauge', deprecated: undefined },
    ])
  })

  it('renders a counter without labels and a family with no samples yet', () => {
    const r = createRegistry()
    r.counter('empty_total', 'Nothing yet')
    r.counter('ticks_total', 'Ticks').inc()
    expect(lines(r.render())).toEqual([
      '# HELP empty_total Nothing yet',
      '# TYPE empty_total counter',
      '# HELP ticks_total Ticks',
      '# TYPE ticks_total counter',
      'ticks_total 1',
      '',
    ])
  })

  it('escapes backslashes, quotes and newlines in label values', () => {
    const r = createRegistry()
    r.counter('odd_total', 'Odd labels').inc({ path: 'a\\b "c"\nd' })
    expect(r.render()).toContain('odd_total{path="a\\\\b \\"c\\"\\nd"} 1')
  })

  it('renders a histogram with cumulative buckets, +Inf, sum and count', () => {
    const r = createRegistry()
    const h = r.histogram('job_seconds', 'Job time', [0.1, 0.5, 1])
    for (const v of [0.05, 0.1, 0.3, 2]) h.observe({ job: 'hk' }, v)
    const out = lines(r.render())
    expect(out.slice(0, 2)).toEqual(['# HELP job_seconds Job time', '# TYPE job_seconds histogram'])
    expect(out.slice(2, 6)).toEqual([
      'job_seconds_bucket{job="hk",le="0.1"} 2', // 0.1 itself falls in le="0.1"
      'job_seconds_bucket{job="hk",le="0.5"} 3',
      'job_seconds_bucket{job="hk",le="1"} 3',
      'job_seconds_bucket{job="hk",le="+Inf"} 4',
    ])
    expect(out[6]).toMatch(/^job_seconds_sum\{job="hk"\} 2\.45\d*$/)
    expect(out[7]).toBe('job_seconds_count{job="hk"} 4')
  })

  it('keeps one histogram series per label set', () => {
    const r = createRegistry()
    const h = r.histogram('d', 'D', [1])
    h.observe({ route: '/a' }, 0.5)
    h.observe({ route: '/b' }, 5)
    const text = r.render()
    expect(text).toContain('d_bucket{route="/a",le="1"} 1')
    expect(text).toContain('d_bucket{route="/b",le="1"} 0')
    expect(text).toContain('d_count{route="/b"} 1')
  })

  it('reads gauges when rendered', () => {
    const r = createRegistry()
    let value = 1
    r.gauge('build_info', 'Build', () => [{ labels: { version: '1.0' }, value }])
    r.gauge('up', 'Up', () => [{ value: value * 10 }])
    expect(r.render()).toContain('build_info{version="1.0"} 1')
    value = 2
    const text = r.render()
    expect(text).toContain('build_info{version="1.0"} 2')
    expect(text).toContain('# TYPE up gauge\nup 20')
  })
})
