/**
 * Live updates, shortcuts, search, one submission per form, the theme toggle and accessibility, in a
 * real Chromium against the real server (Bun). An alert fired through the API shows on an open
 * alerts page without a reload (the event stream), and again while the stream is cut (the polling
 * fallback), after which the page goes back to the stream. Screenshots: tests/e2e/screenshots/live-*.png.
 */
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, screenshot, signIn, startSignedIn } from '../helpers/browser.ts'
import { cliKey, type RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page
let ingestKey = ''
// Generous: the machine is shared; nothing here measures time.
const WAIT = 30_000

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
  ingestKey = await cliKey(server, 'live-e2e', 'operator', ['ingest'])
}, 120_000)
afterAll(async () => {
  await closeAll(browser)
})

async function fire(title: string) {
  const res = await server.fetch('/api/v1/alerts', {
    method: 'POST',
    headers: { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title, severity: 'critical', status: 'firing', labels: { service: title } }),
  })
  expect(res.status).toBe(201)
  return ((await res.json()) as { alert: { id: string } }).alert.id
}

const liveMode = (p: Page) => p.evaluate(() => document.documentElement.dataset.live ?? '')

describe('live updates', () => {
  it('shows an alert fired through the API on the open alerts page, without a reload', async () => {
    await page.goto(`${server.url}/alerts`)
    await page.waitForSelector('html[data-live="stream"]', { timeout: WAIT })
    // A mark on the window: a reload would lose it.
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true))
    const id = await fire('Live checkout down')
    await page.waitForSelector(`tr[data-alert="${id}"]`, { timeout: WAIT })
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true)
    expect(await page.locator('#live-state').innerText()).toBe('Live')
    await screenshot(page, 'live-alerts')
  })

  it('shows an alert a rule raises after the stream opened (the after-ingest evaluation), without a reload', async () => {
    const operatorKey = await cliKey(server, 'live-rules', 'operator')
    const rule = await server.fetch('/api/v1/alert-rules', {
      method: 'POST',
      headers: { Authorization: `Bearer ${operatorKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: 'live queue',
        kind: 'threshold',
        metric: 'live_queue_depth',
        agg: 'max',
        window: '5m',
        comparator: '>=',
        value: 50,
        severity: 'critical',
        summary: 'queue at {{value}}',
      }),
    })
    expect(rule.status, await rule.text()).toBe(201)
    await page.goto(`${server.url}/alerts`)
    await page.waitForSelector('html[data-live="stream"]', { timeout: WAIT })
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true))
    const point = await server.fetch('/api/v1/metrics', {
      method: 'POST',
      headers: { Authorization: `Bearer ${ingestKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'live_queue_depth', value: 80, labels: { queue: 'orders' } }),
    })
    expect(point.status).toBe(200)
    await page.waitForSelector(`#alert-list :text("queue at 80")`, { timeout: WAIT })
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true)
  })

  it('polls while the stream is cut, and goes back to the stream when it returns', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const p = await context.newPage()
    await signIn(p, server.url)
    // Every attempt to open the stream fails, as through a proxy that drops it.
    await p.route('**/events', (route) => route.abort())
    await p.goto(`${server.url}/alerts`)
    await p.waitForSelector('html[data-live="polling"]', { timeout: WAIT })
    await p.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true))
    const id = await fire('Polled payments down')
    await p.waitForSelector(`tr[data-alert="${id}"]`, { timeout: WAIT })
    expect(await liveMode(p)).toBe('polling')
    expect(await p.locator('#live-state').innerText()).toBe('Polling')
    await p.unroute('**/events')
    await p.waitForSelector('html[data-live="stream"]', { timeout: WAIT })
    const again = await fire('Streamed again')
    await p.waitForSelector(`tr[data-alert="${again}"]`, { timeout: WAIT })
    expect(await p.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true)
    await context.close()
  })
})

describe('keyboard', () => {
  it('? lists the shortcuts, / focuses the search, g a / g h / g m go to their pages', async () => {
    await page.goto(`${server.url}/healing`)
    await page.keyboard.press('?')
    await page.waitForSelector('dialog#shortcuts[open]', { timeout: WAIT })
    expect(await page.locator('dialog#shortcuts').innerText()).toContain('Acknowledge the focused alert')
    await screenshot(page, 'live-shortcuts')
    await page.keyboard.press('Escape')
    await page.waitForSelector('dialog#shortcuts:not([open])', { state: 'attached', timeout: WAIT })
    await page.keyboard.press('/')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search')
    await page.keyboard.type('checkout')
    await page.waitForSelector('#search-results [data-group="alerts"] a', { timeout: WAIT })
    expect(await page.locator('#search-results').innerText()).toContain('Live checkout down')
    await page.keyboard.press('Escape')
    await page.locator('main').click()
    await Promise.all([
      page.waitForURL(`${server.url}/alerts`),
      page.keyboard.press('g').then(() => page.keyboard.press('a')),
    ])
    await Promise.all([
      page.waitForURL(`${server.url}/healing`),
      page.keyboard.press('g').then(() => page.keyboard.press('h')),
    ])
    await Promise.all([
      page.waitForURL(`${server.url}/explore`),
      page.keyboard.press('g').then(() => page.keyboard.press('m')),
    ])
  })

  it('a acknowledges the focused alert of the list', async () => {
    const id = await fire('Ack me by key')
    await page.goto(`${server.url}/alerts`)
    const row = page.locator(`tr[data-alert="${id}"]`)
    await row.waitFor({ timeout: WAIT })
    await row.focus()
    await page.keyboard.press('a')
    await page.waitForSelector(`tr[data-alert="${id}"][data-status="acknowledged"]`, { timeout: WAIT })
    // The list refreshed under the keyboard: the row keeps the focus.
    const focused = () => (document.activeElement as HTMLElement | null)?.dataset.alert
    await page
      .waitForFunction((want) => (document.activeElement as HTMLElement | null)?.dataset.alert === want, id, {
        timeout: 5_000,
      })
      .catch(() => {})
    expect(await page.evaluate(focused)).toBe(id)
  })
})

describe('forms', () => {
  it('cannot be sent twice: the button is disabled while its request runs', async () => {
    const id = await fire('Double click')
    await page.goto(`${server.url}/alerts/${id}`)
    let posts = 0
    let release: () => void = () => {}
    const held = new Promise<void>((r) => (release = r))
    await page.route('**/alerts/actions/*/acknowledge', async (route) => {
      posts++
      await held
      await route.continue()
    })
    try {
      const button = page.getByRole('button', { name: 'Acknowledge', exact: true })
      await button.click()
      await page.waitForSelector('#alert-actions button[disabled]', { timeout: WAIT })
      // Clicking again while the first request runs sends nothing.
      await button.click({ force: true, timeout: 2_000 }).catch(() => {})
      await button.click({ force: true, timeout: 2_000 }).catch(() => {})
      release()
      await page.getByRole('button', { name: 'Unacknowledge' }).waitFor({ timeout: WAIT })
      expect(posts).toBe(1)
    } finally {
      release()
      await page.unroute('**/alerts/actions/*/acknowledge')
    }
  })
})

describe('theme', () => {
  it('follows the system until toggled, then keeps the choice across a reload', async () => {
    await page.goto(`${server.url}/alerts`)
    expect(await page.evaluate(() => document.documentElement.dataset.theme ?? '')).toBe('')
    const saved = page.waitForResponse((r) => r.url().endsWith('/settings/theme') && r.status() === 204)
    await page.locator('#theme-toggle').click()
    await saved
    const chosen = await page.evaluate(() => document.documentElement.dataset.theme)
    expect(['light', 'dark']).toContain(chosen)
    await page.reload()
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(chosen)
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    expect(bg).toBe(chosen === 'dark' ? 'rgb(15, 18, 22)' : 'rgb(247, 248, 250)')
    await screenshot(page, `live-theme-${chosen}`)
  })
})

describe('accessibility (axe-core)', () => {
  // The signed-in page's own session: its cookie, and the CSRF token the layout hands htmx.
  const sessionCookie = async () => (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ')
  const csrf = async () => {
    await page.goto(`${server.url}/alerts`)
    return page.evaluate(() => JSON.parse(document.body.getAttribute('hx-headers') ?? '{}')['X-CSRF-Token'] as string)
  }
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
  for (const [path, theme] of [
    ['/alerts', 'light'],
    ['/alerts', 'dark'],
    ['/healing', 'light'],
    ['/healing', 'dark'],
  ] as const) {
    it(`finds no serious or critical violations on ${path} (${theme})`, async () => {
      const set = await server.fetch('/api/v1/me/theme', {
        method: 'PUT',
        headers: { Cookie: await sessionCookie(), 'Content-Type': 'application/json', 'X-CSRF-Token': await csrf() },
        body: JSON.stringify({ theme }),
      })
      expect(set.status).toBe(200)
      await page.goto(`${server.url}${path}`)
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme)
      await page.waitForSelector('html[data-live]', { timeout: WAIT })
      // Evaluated through the debugging protocol: the page's CSP does not apply to it.
      await page.evaluate(axeSource)
      const violations = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: {
              run: (
                o: unknown,
              ) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>
            }
          }
        ).axe
        const r = await axe.run({ resultTypes: ['violations'] })
        return r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          targets: v.nodes.map((n) => n.target.join(' ')),
        }))
      })
      expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([])
    })
  }
})
