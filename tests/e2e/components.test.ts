/**
 * Components in a real browser: an operator creates a push component through the form, its push
 * URL (shown on its page) is called like an Uptime Kuma push monitor, the component turns up on
 * its page and on the Overview tiles, and its `up` series opens in the explorer and zooms.
 * Screenshots land in tests/e2e/screenshots/components-*.png.
 */
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { SHOTS, closeAll, startSignedIn } from '../helpers/browser.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, until, type RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `components-${name}.png`), fullPage: true })

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
})

afterAll(async () => {
  await closeAll(browser)
})

describe('a push component, from the form to the explorer', () => {
  let pushUrl = ''

  it('is created through the form; a bad interval is refused with the field named', async () => {
    await page.goto(`${server.url}/components`)
    await Promise.all([page.waitForURL(/\/new\/component$/), page.getByRole('link', { name: 'New component' }).click()])
    await page.locator('input[name="name"]').fill('nightly-etl')
    await page.locator('select[name="kind"]').selectOption('workflow')
    await page.locator('#check-push').check()
    await page.locator('input[name="expectedIntervalSeconds"]').fill('5')
    await page.getByRole('button', { name: /create|save/i }).click()
    await expect.poll(() => page.locator('#flash').innerText()).toContain('expectedIntervalSeconds')
    await shot('form-error')
    await page.locator('input[name="expectedIntervalSeconds"]').fill('3600')
    await Promise.all([
      page.waitForURL(/\/components\/[0-9A-Z]{26}$/),
      page.getByRole('button', { name: /create|save/i }).click(),
    ])
    expect(await page.locator('main h1').innerText()).toContain('nightly-etl')
    const text = await page.locator('main').innerText()
    pushUrl = text.match(/https?:\/\/\S+\/api\/v1\/push\/[\w-]+/)?.[0] ?? ''
    expect(pushUrl, text).not.toBe('')
  })

  it('takes heartbeats at its push URL and shows them', async () => {
    const url = new URL(pushUrl)
    for (const ping of [40, 55, 38]) {
      const res = await server.fetch(`${url.pathname}?status=up&msg=OK&ping=${ping}`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ ok: true })
    }
    expect((await server.fetch('/api/v1/push/not-a-token?status=up')).status).toBe(404)
    await page.reload()
    await expect.poll(() => page.locator('main').innerText()).toMatch(/\bup\b/i)
    await shot('page')
    await page.goto(`${server.url}/`)
    await until(
      'the overview tile',
      async () => ((await page.locator('main').innerText()).includes('nightly-etl') ? true : undefined),
      15_000,
    )
    await shot('overview')
  })

  it('its metrics open in the explorer and zoom by drag', async () => {
    // Latency points for the component over the last 15 minutes, pushed with an ingest key.
    const made = await runCli(['keys', 'create', '--name', 'etl', '--role', 'viewer', '--scope', 'ingest'], server.env)
    const now = Date.now()
    const points = Array.from({ length: 30 }, (_, i) => ({
      name: 'llm_latency_ms',
      labels: { component: 'nightly-etl', model: 'llama3' },
      value: 300 + 20 * Math.sin(i / 3),
      ts: now - (30 - i) * 30_000,
    }))
    const res = await server.fetch('/api/v1/metrics', {
      method: 'POST',
      body: JSON.stringify({ points }),
      headers: { Authorization: `Bearer ${made.stdout.trim()}`, 'Content-Type': 'application/json' },
    })
    expect(res.status).toBe(200)
    await page.goto(`${server.url}/explore?name=llm_latency_ms&match[component]=nightly-etl&range=15m`)
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart')?.dataset.state === 'ready')
    const loads = Number(await page.locator('#chart').getAttribute('data-loads'))
    const box = (await page.locator('#chart .u-over').boundingBox())!
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 })
    await page.mouse.up()
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).not.toBeNull()
    await page.waitForFunction((n) => {
      const el = document.querySelector<HTMLElement>('#chart')
      return el?.dataset.state === 'ready' && Number(el.dataset.loads) > n
    }, loads)
    await shot('explorer-zoomed')
  })
})
