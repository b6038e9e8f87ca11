/**
 * The comparison view in a real browser against the real server (Bun): points of two versions are
 * pushed through the API, the form on /models/:id/compare is filled and submitted, htmx swaps in
 * the table and the overlaid charts, the address follows, and bad input (the same version twice)
 * names the field. Screenshot: tests/e2e/screenshots/registry-compare.png.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, screenshot, startSignedIn, watchProblems } from '../helpers/browser.ts'
import { cliKey, type RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page
const problems: string[] = []

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
  // The one 400 the second test provokes (the same version twice), as the page and the browser log it.
  watchProblems(page, problems, [
    /HTTP 400 GET .*\/models\/qwen-finance\/compare\?a=1.4.0&b=1.4.0/,
    /status of 400 \(Bad Request\)/,
    /Response Status Error Code 400 from \/models\/qwen-finance\/compare/,
  ])
  const key = await cliKey(server, 'compare-ingest', 'viewer', ['ingest'])
  const now = Date.now()
  const points = []
  for (let i = 0; i < 200; i++)
    for (const [version, extra, failEvery] of [
      ['1.4.0', 0, 50],
      ['1.5.0', 150, 5],
    ] as const) {
      const labels = { model: 'qwen-finance', version }
      const ts = now - 40 * 60_000 + i * 11_000
      points.push({ name: 'llm_latency_ms', value: 700 + ((i * 37) % 200) + extra, ts, labels })
      points.push({ name: 'llm_requests_total', value: 1, ts, labels })
      points.push({ name: 'llm_errors_total', value: i % failEvery === 0 ? 1 : 0, ts, labels })
    }
  const res = await fetch(`${server.url}/api/v1/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ points }),
  })
  expect(res.status, await res.text()).toBe(200)
})

afterAll(async () => {
  await closeAll(browser)
})

describe('/models/:id/compare in a browser', () => {
  it('compares two versions from the form: table, verdicts and overlaid charts swapped in by htmx', async () => {
    await page.goto(`${server.url}/models/qwen-finance/compare`)
    await expect.poll(() => page.locator('#compare-result').innerText()).toContain('Choose two versions')
    await page.locator('input[name="a"]').fill('1.4.0')
    await page.locator('input[name="b"]').fill('1.5.0')
    await page.locator('select[name="range"]').selectOption('1h')
    await page.getByRole('button', { name: 'Compare' }).click()
    await page.locator('#compare-table').waitFor()
    expect(await page.locator('tr[data-metric="latencyP50"]').getAttribute('data-significant')).toBe('true')
    expect(await page.locator('tr[data-metric="errorRate"]').getAttribute('data-significant')).toBe('true')
    expect(await page.locator('.cmp-chart polyline.a').count()).toBe(3)
    expect(await page.locator('.cmp-chart polyline.b').count()).toBe(3)
    // The charts have a size on screen (drawn, not collapsed).
    const box = await page.locator('.cmp-chart svg').first().boundingBox()
    expect(box!.width).toBeGreaterThan(200)
    expect(box!.height).toBeGreaterThan(50)
    expect(page.url()).toContain('a=1.4.0')
    await screenshot(page, 'registry-compare')
  })

  it('the same version twice names b, and a new comparison replaces the message', async () => {
    await page.locator('input[name="b"]').fill('1.4.0')
    await page.getByRole('button', { name: 'Compare' }).click()
    await expect.poll(() => page.locator('#compare-result li[data-field="b"]').count()).toBe(1)
    await page.locator('input[name="b"]').fill('1.5.0')
    await page.getByRole('button', { name: 'Compare' }).click()
    await page.locator('#compare-table').waitFor()
    expect(problems).toEqual([])
  })
})
