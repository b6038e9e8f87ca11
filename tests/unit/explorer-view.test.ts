/**
 * public/explorer-view.js, the explorer's address <-> view code, run as the browser runs it (a
 * classic script setting window.HomeostatView), here in a node:vm context.
 */
import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'

type View = {
  name: string
  match: [string, string][]
  agg: string | null
  by: string
  range: string | null
  from: number | null
  to: number | null
  step: string
}
type Api = {
  parse(search: string): View
  search(v: View, win?: { from: number; to: number }, step?: string): string
  timeWindow(v: View): { from: number; to: number }
  stepFor(v: View, win: { from: number; to: number }): number
  durationText(ms: number): string
  parseMatchers(text: string): { pairs?: [string, string][]; error?: string }
  matchersText(pairs: [string, string][]): string
}

const source = readFileSync(new URL('../../public/explorer-view.js', import.meta.url), 'utf8')
const window: { HomeostatView?: Api } = {}
runInNewContext(source, { window, URLSearchParams, Date, JSON, Number, isFinite, encodeURIComponent })
const V = window.HomeostatView!
const H = 3_600_000
// A plain object: the vm context's objects have another Object.prototype, which toEqual tells apart.
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

describe('the explorer address', () => {
  it('reads every part of the view and writes it back the same', () => {
    const search = 'name=llm_latency_ms&match[agent]=planner&match[model]=a,b&agg=p95&by=model&range=6h&step=5m'
    const v = V.parse(search)
    expect(plain(v)).toEqual({
      name: 'llm_latency_ms',
      match: [
        ['agent', 'planner'],
        ['model', 'a,b'],
      ],
      agg: 'p95',
      by: 'model',
      range: '6h',
      from: null,
      to: null,
      step: '5m',
    })
    expect(V.search(v)).toBe(search)
  })

  it('an absolute window is kept as RFC 3339 times; a preset wins over from/to', () => {
    const v = V.parse('name=x&from=2026-01-01T10:00:00Z&to=2026-01-01T12:30:00Z')
    expect([v.range, v.from, v.to]).toEqual([
      null,
      Date.parse('2026-01-01T10:00:00Z'),
      Date.parse('2026-01-01T12:30:00Z'),
    ])
    expect(V.search(v)).toBe('name=x&agg=avg&from=2026-01-01T10:00:00Z&to=2026-01-01T12:30:00Z')
    expect(
      V.parse(`name=x&from=${Date.parse('2026-01-01T10:00:00Z')}&to=${Date.parse('2026-01-01T11:00:00Z')}`).from,
    ).toBe(Date.parse('2026-01-01T10:00:00Z'))
    expect(V.parse('name=x&range=7d&from=2026-01-01T10:00:00Z').range).toBe('7d')
  })

  it('falls back for what it does not know: 1h, avg, a reversed window', () => {
    expect(plain(V.parse(''))).toMatchObject({ name: '', agg: 'avg', range: '1h', match: [] })
    expect(V.parse('name=x&agg=median&range=2w').agg).toBe('avg')
    expect(V.parse('name=x&range=2w').range).toBe('1h')
    expect(V.parse('name=x&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z').range).toBe('1h')
  })

  it('takes the text form of the label field too (the form sent without the script)', () => {
    expect(plain(V.parse('name=x&match=agent%3Dplanner%2Cmodel%3D%22a%2Cb%22').match)).toEqual([
      ['agent', 'planner'],
      ['model', 'a,b'],
    ])
  })

  it('gives the API the window and step; values are encoded, : and , kept readable', () => {
    const v = V.parse('name=x&match[team]=a%26b%20c&by=agent,model')
    expect(
      V.search(v, { from: Date.parse('2026-01-01T10:00:00Z'), to: Date.parse('2026-01-01T11:00:00Z') }, '15s'),
    ).toBe(
      'name=x&match[team]=a%26b%20c&agg=avg&by=agent,model&from=2026-01-01T10:00:00Z&to=2026-01-01T11:00:00Z&step=15s',
    )
  })
})

describe('label matchers', () => {
  it('parses key=value pairs, quoted values with commas, and a later key replacing an earlier one', () => {
    expect(plain(V.parseMatchers(' agent = planner , model="gpt,4" , agent=coder'))).toEqual({
      pairs: [
        ['model', 'gpt,4'],
        ['agent', 'coder'],
      ],
    })
    expect(plain(V.parseMatchers(''))).toEqual({ pairs: [] })
    expect(plain(V.parseMatchers('env='))).toEqual({ pairs: [['env', '']] })
    expect(
      V.matchersText([
        ['model', 'gpt,4'],
        ['agent', 'coder'],
      ]),
    ).toBe('model="gpt,4",agent=coder')
  })

  it('says what is wrong with a bad one', () => {
    expect(V.parseMatchers('agent planner').error).toMatch(/label=value/)
    expect(V.parseMatchers('1bad=x').error).toMatch(/"1bad" is not a label name/)
    expect(V.parseMatchers('a="\\q"').error).toMatch(/not a valid quoted value/)
  })
})

describe('the automatic step', () => {
  const step = (range: string) => {
    const v = V.parse(`name=x&range=${range}`)
    return V.durationText(V.stepFor(v, V.timeWindow(v)))
  }
  it('aims at about 300 points, rounded to a whole step (whole minutes and hours read rollups)', () => {
    expect(['15m', '1h', '6h', '24h', '7d', '30d', '90d'].map(step)).toEqual([
      '5s',
      '15s',
      '2m',
      '5m',
      '1h',
      '3h',
      '12h',
    ])
    const win = { from: 0, to: 6 * H }
    for (const r of ['6h', '24h']) expect(win.to / V.stepFor(V.parse(`range=${r}`), win)).toBeLessThanOrEqual(300)
  })
  it('a step set by hand wins', () => {
    const v = V.parse('name=x&range=90d&step=1d')
    expect(V.stepFor(v, V.timeWindow(v))).toBe(24 * H)
  })
})
