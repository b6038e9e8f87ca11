/**
 * The metrics explorer in a real browser (Debian chromium driven by playwright-core) against the
 * real server under Bun: an ingest key made with the CLI pushes three series over the last hours,
 * then the explorer draws them (uPlot canvas, legend, hover values), zooms by drag (the address
 * gets from/to and the data is fetched again), steps back and forward, resets, switches to p95,
 * survives a reload, and shows its empty and error states. Screenshots on a laptop and a phone,
 * light and dark, land in tests/e2e/screenshots/explorer-*.png.
 */
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ADMIN, SHOTS, closeAll, launchChromium, signIn, watchProblems } from '../helpers/browser.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startServer, type RunningServer } from '../helpers/server.ts'

const LAPTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const METRIC = 'llm_latency_ms'
const AGENTS = ['planner', 'coder', 'tester']
const VIEW = `/explore?name=${METRIC}&range=6h`

let server: RunningServer
let browser: Browser
let laptop: BrowserContext
let page: Page
const problems: string[] = []
const expected: RegExp[] = []

const watch = (p: Page) => watchProblems(p, problems, expected)

const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `explorer-${name}.png`), fullPage: true })
const params = (p: Page) => new URL(p.url()).searchParams
const _chartState = (p: Page) => p.locator('#chart').getAttribute('data-state')
const loads = async (p: Page) => Number((await p.locator('#chart').getAttribute('data-loads')) ?? 0)
/** Waits until a fetch after `before` has finished and the chart shows `state`. */
async function settled(p: Page, state: string, before = -1) {
  await p.waitForFunction(
    ([s, n]) => {
      const el = document.querySelector<HTMLElement>('#chart')
      return el?.dataset.state === s && Number(el.dataset.loads ?? 0) > Number(n)
    },
    [state, before] as const,
  )
}
const legend = (p: Page) => p.locator('#chart .u-legend .u-series th').allInnerTexts()
/** Pixels of the chart canvas that are drawn on (not transparent). */
const inked = (p: Page) =>
  p.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('#chart canvas')!
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
    let n = 0
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++
    return n
  })

beforeAll(async () => {
  server = await startServer({ runtime: 'bun', env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } })

  // An ingest key from the CLI, and four hours of one point a minute for each agent.
  const made = await runCli(
    ['keys', 'create', '--name', 'explorer-e2e', '--role', 'viewer', '--scope', 'ingest'],
    server.env,
  )
  expect(made.code, made.stderr).toBe(0)
  const key = made.stdout.trim()
  const now = Date.now() - (Date.now() % 60_000)
  let seed = 7
  const noise = () => ((seed = (seed * 48271) % 2147483647) / 2147483647 - 0.5) * 40 // deterministic
  const points = AGENTS.flatMap((agent, a) =>
    Array.from({ length: 240 }, (_, i) => ({
      name: METRIC,
      labels: { agent, model: 'llama3' },
      ts: now - (240 - i) * 60_000,
      value: Math.round(200 + a * 150 + 60 * Math.sin(i / 25 + a * 2) + noise()),
    })),
  )
  const res = await server.fetch('/api/v1/metrics', {
    method: 'POST',
    body: JSON.stringify({ points }),
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
  })
  expect(res.status, await res.clone().text()).toBe(200)
  expect(await res.json()).toMatchObject({ written: 720 })

  browser = await launchChromium()
  laptop = await browser.newContext({ viewport: LAPTOP, colorScheme: 'light' })
  laptop.setDefaultTimeout(15_000)
  page = await laptop.newPage()
  watch(page)
  await signIn(page, server.url)
})

afterAll(() => closeAll(browser))

describe('the metrics explorer on a laptop', () => {
  it('with no metric chosen, says so and lists the metrics there are', async () => {
    await page.goto(`${server.url}/explore`)
    expect(await page.locator('main h1').innerText()).toBe('Metrics')
    const list = page.locator('#chart-message .metric-list')
    await list.getByRole('link', { name: METRIC }).waitFor()
    expect(await page.locator('#chart-message').innerText()).toContain('Choose a metric')
    expect(await page.locator('#chart canvas').count()).toBe(0)
    expect(await page.locator('#export-csv').getAttribute('aria-disabled')).toBe('true')
    // The metric names are offered as suggestions in the name field too.
    expect(
      await page.locator('#metric-names option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value)),
    ).toContain(METRIC)
    await shot(page, 'empty')
    await Promise.all([page.waitForURL(/name=llm_latency_ms/), list.getByRole('link', { name: METRIC }).click()])
    await settled(page, 'ready')
  })

  it('draws the three series with a legend, hover values and export links', async () => {
    await page.goto(`${server.url}${VIEW}`)
    await settled(page, 'ready')
    expect(await page.locator('#chart canvas').count()).toBe(1)
    expect(await inked(page)).toBeGreaterThan(2000)
    const names = await legend(page)
    for (const agent of AGENTS)
      expect(
        names.some((n) => n.includes(`agent=${agent}`)),
        names.join(' | '),
      ).toBe(true)
    expect(names.some((n) => n.includes('model='))).toBe(false) // the same for all: not repeated
    expect(await page.locator('#chart-status').innerText()).toMatch(/^3 series · \d+ points · step 2m/)
    expect(await page.locator('.preset[value="6h"]').getAttribute('aria-pressed')).toBe('true')

    // Hovering the middle of the chart shows a value per series in the legend.
    const over = (await page.locator('#chart .u-over').boundingBox())!
    await page.mouse.move(over.x + over.width * 0.8, over.y + over.height / 2)
    const values = await page.locator('#chart .u-legend .u-series .u-value').allInnerTexts()
    expect(values).toHaveLength(4)
    for (const v of values.slice(1)) expect(v).toMatch(/^\d+(\.\d+)?$/)

    const csv = new URL((await page.locator('#export-csv').getAttribute('href'))!, server.url)
    expect(csv.pathname).toBe('/api/v1/metrics/export')
    expect(Object.fromEntries(csv.searchParams)).toMatchObject({ format: 'csv', name: METRIC, agg: 'avg', step: '2m' })
    expect(csv.searchParams.get('from')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(await page.locator('#export-json').getAttribute('href')).toContain('format=json&name=llm_latency_ms')
    // The links work with the session: the chart's rows, and every raw point.
    const got = await page.request.get(csv.href)
    expect(got.status()).toBe(200)
    expect(got.headers()['content-type']).toMatch(/^text\/csv/)
    expect((await got.text()).trim().split('\n').length).toBeGreaterThan(100)
    const raw = new URL((await page.locator('#export-raw').getAttribute('href'))!, server.url)
    expect(raw.searchParams.get('step')).toBeNull()
    const rawRows = (await (await page.request.get(raw.href)).text()).trim().split('\n')
    expect(rawRows.length).toBeGreaterThanOrEqual(720)
    await shot(page, 'laptop-light')
  })

  it('a drag across the chart zooms: from/to in the address, data fetched again at a finer step', async () => {
    const before = await loads(page)
    const over = (await page.locator('#chart .u-over').boundingBox())!
    await page.mouse.move(over.x + over.width * 0.5, over.y + over.height / 2)
    await page.mouse.down()
    await page.mouse.move(over.x + over.width * 0.8, over.y + over.height / 2, { steps: 8 })
    await page.mouse.up()
    await settled(page, 'ready', before)
    const q = params(page)
    expect(q.get('range')).toBeNull()
    const from = Date.parse(q.get('from')!)
    const to = Date.parse(q.get('to')!)
    // 30% of six hours, give or take the edges of the drag.
    expect((to - from) / 60_000).toBeGreaterThan(90)
    expect((to - from) / 60_000).toBeLessThan(126)
    const query = new URLSearchParams((await page.locator('#chart').getAttribute('data-query'))!)
    expect(Date.parse(query.get('from')!)).toBe(from)
    expect(query.get('step')).toBe('30s')
    expect(await page.locator('.preset[aria-pressed="true"]').count()).toBe(0)
    expect(await page.locator('input[name="from"]').inputValue()).not.toBe('')
    expect((await legend(page)).length).toBe(4)
    await shot(page, 'zoomed')
  })

  it('Back returns to the six hours, Forward to the zoom; Reset goes back to the six hours', async () => {
    const zoomed = page.url()
    let before = await loads(page)
    await page.goBack()
    await settled(page, 'ready', before)
    expect(params(page).get('range')).toBe('6h')
    before = await loads(page)
    await page.goForward()
    await settled(page, 'ready', before)
    expect(page.url()).toBe(zoomed)

    // Pan earlier by half the window, then reset.
    const q = params(page)
    before = await loads(page)
    await page.getByRole('button', { name: 'Earlier' }).click()
    await settled(page, 'ready', before)
    const span = Date.parse(q.get('to')!) - Date.parse(q.get('from')!)
    expect(Date.parse(params(page).get('to')!)).toBeCloseTo(Date.parse(q.get('to')!) - span / 2, -4)
    before = await loads(page)
    await page.getByRole('button', { name: 'Reset zoom' }).click()
    await settled(page, 'ready', before)
    expect(params(page).get('range')).toBe('6h')
    expect(params(page).get('from')).toBeNull()
    expect(await page.getByRole('button', { name: 'Reset zoom' }).isDisabled()).toBe(true)
  })

  it('p95 and a label filter go into the address and survive a reload', async () => {
    let before = await loads(page)
    await page.locator('select[name="agg"]').selectOption('p95')
    await settled(page, 'ready', before)
    expect(params(page).get('agg')).toBe('p95')
    expect(new URLSearchParams((await page.locator('#chart').getAttribute('data-query'))!).get('agg')).toBe('p95')

    before = await loads(page)
    await page.locator('input[name="match"]').fill('agent=planner')
    await page.locator('input[name="match"]').press('Enter')
    await settled(page, 'ready', before)
    expect(params(page).get('match[agent]')).toBe('planner')
    expect(await legend(page)).toHaveLength(2)

    const url = page.url()
    await page.reload()
    await settled(page, 'ready')
    expect(page.url()).toBe(url)
    expect(await page.locator('select[name="agg"]').inputValue()).toBe('p95')
    expect(await page.locator('input[name="match"]').inputValue()).toBe('agent=planner')
    expect(await page.locator('input[name="name"]').inputValue()).toBe(METRIC)
    expect(await page.locator('#chart-status').innerText()).toMatch(/^1 series/)
    await shot(page, 'p95')
  })

  it('says when there is no data in the window, and shows the API error for a bad query', async () => {
    const from = new Date(Date.now() - 10 * 86_400_000).toISOString()
    const to = new Date(Date.now() - 9 * 86_400_000).toISOString()
    await page.goto(`${server.url}/explore?name=${METRIC}&from=${from}&to=${to}`)
    await settled(page, 'empty')
    expect(await page.locator('#chart-message').innerText()).toMatch(/^No data for llm_latency_ms in /)
    expect(await page.locator('#chart canvas').count()).toBe(0)

    expected.push(/^HTTP 400 GET .*\/api\/v1\/metrics\/query\?/, /^console: .*400/)
    await page.goto(`${server.url}/explore?name=${METRIC}&range=90d&step=1s`)
    await settled(page, 'error')
    const text = await page.locator('#chart-message .error').innerText()
    expect(text).toContain('Invalid query')
    expect(text).toMatch(/step: gives more than \d+ points/)
    await shot(page, 'error')

    // A label filter that does not parse is refused before any request.
    const before = await loads(page)
    await page.locator('input[name="match"]').fill('agent planner')
    await page.locator('input[name="match"]').press('Enter')
    await page.locator('#controls-error').waitFor()
    expect(await page.locator('#controls-error').innerText()).toContain('label=value')
    expect(await loads(page)).toBe(before)
  })

  it('no console errors, script errors, failed loads or unexpected 4xx/5xx', () => {
    expect(problems).toEqual([])
  })
})

describe('the metrics explorer on a phone and in dark mode', () => {
  const views = [
    { name: 'phone-light', viewport: PHONE, colorScheme: 'light' as const, mobile: true },
    { name: 'phone-dark', viewport: PHONE, colorScheme: 'dark' as const, mobile: true },
    { name: 'laptop-dark', viewport: LAPTOP, colorScheme: 'dark' as const, mobile: false },
  ]
  it.each(views)('$name: fits the width, draws the chart in the scheme colours', async (v) => {
    const ctx = await browser.newContext({
      viewport: v.viewport,
      colorScheme: v.colorScheme,
      isMobile: v.mobile,
      hasTouch: v.mobile,
      deviceScaleFactor: v.mobile ? 2 : 1,
      storageState: await laptop.storageState(),
    })
    ctx.setDefaultTimeout(15_000)
    try {
      const p = await ctx.newPage()
      watch(p)
      await p.goto(`${server.url}${VIEW}`)
      await settled(p, 'ready')
      expect(await inked(p)).toBeGreaterThan(2000)
      const width = await p.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth))
      expect(width).toBeLessThanOrEqual(v.viewport.width)
      const box = (await p.locator('#chart canvas').boundingBox())!
      expect(box.x + box.width).toBeLessThanOrEqual(v.viewport.width)
      // Axis labels take the page's text colour: light on dark, dark on light.
      const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor)
      const sum = bg
        .match(/\d+/g)!
        .slice(0, 3)
        .map(Number)
        .reduce((a, b) => a + b, 0)
      expect(sum < 3 * 64).toBe(v.colorScheme === 'dark')
      expect((await legend(p)).length).toBe(4)
      if (v.mobile) {
        // A finger on the chart shows the values under it.
        await p.locator('#chart .u-over').scrollIntoViewIfNeeded()
        const over = (await p.locator('#chart .u-over').boundingBox())!
        await p.touchscreen.tap(over.x + over.width * 0.7, over.y + over.height / 2)
        const values = await p.locator('#chart .u-legend .u-series .u-value').allInnerTexts()
        expect(
          values.slice(1).every((x) => /^\d/.test(x)),
          values.join(' '),
        ).toBe(true)
      }
      await p.evaluate(() => window.scrollTo(0, 0)) // the sticky top bar at the top of a full-page shot
      await shot(p, v.name)
      expect(problems).toEqual([])
    } finally {
      await ctx.close()
    }
  })
})
