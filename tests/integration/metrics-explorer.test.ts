/**
 * The metrics explorer page (/explore) over the real app: who may see it, what the first paint
 * holds (controls filled from the address, escaped), and that the vendored chart library and the
 * page scripts are served from our own origin with no inline script (the CSP allows none).
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
let viewer: Record<string, string>
beforeAll(async () => {
  t = await testApp()
  viewer = (await t.session('viewer')).headers
})
afterAll(() => t.close())

const page = (path: string, headers: Record<string, string> = {}) =>
  t.app.request(path, { headers: { Accept: 'text/html', ...headers } })

describe('GET /explore', () => {
  it('renders for a viewer: the controls, the chart area and the scripts', async () => {
    const res = await page('/explore', viewer)
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('<h1>Metrics</h1>')
    expect(html).toContain('aria-current="page">Metrics</a>')
    for (const field of [
      'name="name"',
      'name="match"',
      'name="agg"',
      'name="by"',
      'name="from"',
      'name="to"',
      'name="step"',
    ])
      expect(html).toContain(field)
    for (const r of ['15m', '1h', '6h', '24h', '7d', '30d', '90d']) expect(html).toContain(`value="${r}"`)
    for (const a of ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99', 'rate'])
      expect(html).toContain(`<option value="${a}"`)
    expect(html).toContain('id="chart"')
    expect(html).toContain('id="export-csv"')
    expect(html).toContain('Choose a metric')
    // The default range is pressed; every script comes from a file, none inline.
    expect(html).toMatch(/value="1h" class="preset" aria-pressed="true"/)
    const scripts = html.match(/<script\b[^>]*>/g) ?? []
    expect(scripts.map((s) => /src="([^"]+)"/.exec(s)?.[1])).toEqual([
      '/static/vendor/htmx.min.js',
      '/static/app.js',
      '/static/live.js',
      '/static/vendor/uPlot.iife.min.js',
      '/static/explorer-view.js',
      '/static/explorer-chart.js',
      '/static/explorer.js',
    ])
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self' 'unsafe-eval'/)
  })

  it('fills the controls from the address, escaped', async () => {
    const q = new URLSearchParams({
      name: 'llm_latency_ms',
      'match[agent]': 'planner',
      'match[model]': 'a,b',
      agg: 'p95',
      by: 'model',
      range: '6h',
      step: '5m',
    })
    const html = await (await page(`/explore?${q}`, viewer)).text()
    expect(html).toContain('value="llm_latency_ms"')
    expect(html).toContain('value="agent=planner,model=&quot;a,b&quot;"')
    expect(html).toMatch(/<option value="p95" selected/)
    expect(html).toContain('value="model"')
    expect(html).toContain('value="5m"')
    expect(html).toMatch(/value="6h" class="preset" aria-pressed="true"/)

    const evil = await (
      await page(`/explore?name=${encodeURIComponent('"><script>alert(1)</script>')}&agg=nonsense`, viewer)
    ).text()
    expect(evil).not.toContain('<script>alert(1)')
    expect(evil).toContain('&quot;&gt;&lt;script&gt;')
    expect(evil).toMatch(/<option value="avg" selected/) // an unknown aggregation falls back to avg
  })

  it('without a session redirects to /login; an API call without one gets 401', async () => {
    const res = await page('/explore')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/login?next=%2Fexplore')
    const api = await t.app.request('/api/v1/metrics/query?name=x')
    expect(api.status).toBe(401)
  })

  it('serves the vendored uPlot and the page files from /static', async () => {
    const files: [string, RegExp, string][] = [
      ['/static/vendor/uPlot.iife.min.js', /^text\/javascript/, 'var uPlot='],
      ['/static/vendor/uPlot.min.css', /^text\/css/, '.uplot'],
      ['/static/explorer.js', /^text\/javascript/, '/api/v1/metrics/query'],
      ['/static/explorer-chart.js', /^text\/javascript/, 'HomeostatChart'],
      ['/static/explorer-view.js', /^text\/javascript/, 'HomeostatView'],
      ['/static/explorer.css', /^text\/css/, '.chart-bar'],
    ]
    for (const [path, type, text] of files) {
      const res = await t.app.request(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type'), path).toMatch(type)
      expect(await res.text(), path).toContain(text)
    }
  })

  it('the vendored uPlot is the installed uplot package (npm run vendor:uplot copies it)', () => {
    for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) {
      const vendored = readFileSync(new URL(`../../public/vendor/${file}`, import.meta.url))
      const installed = readFileSync(new URL(`../../node_modules/uplot/dist/${file}`, import.meta.url))
      expect(vendored.equals(installed), `${file}: run npm run vendor:uplot`).toBe(true)
    }
  })
})
