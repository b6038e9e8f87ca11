/**
 * The front page in a real browser (Debian chromium through playwright-core) against the real
 * server under Bun, with data sent through the API as a user would: components and their
 * heartbeats, a day of LLM and agent metrics, firing alerts. Checks the sections' order on the
 * first screen, a tile refreshing alone when its live event fires, the range links, and an
 * axe-core accessibility check with no serious or critical violations. The screenshot lands in
 * tests/e2e/screenshots/front.png; with UPDATE_DOCS_SHOTS=1 also in docs/img/front-page.png.
 */
import { copyFileSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, SHOTS, closeAll, launchChromium, signIn, watchProblems } from '../helpers/browser.ts'
import { cliKey, ROOT, startServer, type RunningServer } from '../helpers/server.ts'

const HOUR = 3_600_000
let server: RunningServer
let browser: Browser
let page: Page
const problems: string[] = []

type Json = Record<string, any>
async function api(key: string, method: string, path: string, body?: unknown) {
  const res = await server.fetch(path, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return text ? (JSON.parse(text) as Json) : {}
}

async function seed() {
  const op = await cliKey(server, 'front-op', 'operator')
  const ingest = await cliKey(server, 'front-ingest', 'viewer', ['ingest'])
  await api(op, 'POST', '/api/v1/prices', { model: 'gpt-4o', promptPer1M: 2.5, completionPer1M: 10 })
  await api(op, 'POST', '/api/v1/prices', { model: 'llama3', promptPer1M: 0.2, completionPer1M: 0.2 })
  const agents = ['planner-agent', 'coder-agent', 'reviewer-agent', 'search-api', 'vector-db']
  for (const [i, name] of agents.entries()) {
    const c = await api(op, 'POST', '/api/v1/components', {
      name,
      kind: i < 3 ? 'agent' : i === 3 ? 'service' : 'vector_store',
      push: { expectedIntervalSeconds: 3600 },
    })
    await api(op, 'GET', `/api/v1/push/${c.push.token}?status=${name === 'search-api' ? 'down&msg=timeout' : 'up'}`)
  }
  const now = Date.now()
  const points: Json[] = []
  for (let h = 0; h < 48; h++) {
    const at = now - h * HOUR - 5 * 60_000
    for (const [i, agent] of agents.slice(0, 3).entries()) {
      const model = i === 1 ? 'llama3' : 'gpt-4o'
      const labels = { component: agent, model }
      const load = (h < 24 ? 1.4 : 1) * (20 + 5 * i)
      points.push(
        { name: 'llm_latency_ms', value: 600 + 300 * i + 120 * Math.sin(h / 3), ts: at, labels },
        { name: 'llm_tokens_total', value: Math.round(load * 900), ts: at, labels: { ...labels, kind: 'prompt' } },
        { name: 'llm_tokens_total', value: Math.round(load * 200), ts: at, labels: { ...labels, kind: 'completion' } },
        { name: 'agent_requests_total', value: Math.round(load), ts: at, labels: { component: agent } },
        { name: 'agent_errors_total', value: h % (4 + i) === 0 ? 1 : 0, ts: at, labels: { component: agent } },
      )
    }
    points.push({ name: 'latency_ms', value: 80 + 40 * Math.cos(h / 4), ts: at, labels: { component: 'vector-db' } })
  }
  await api(ingest, 'POST', '/api/v1/metrics', { points })
  for (const [title, severity] of [
    ['planner-agent error rate above 5%', 'critical'],
    ['search-api heartbeat missed', 'error'],
    ['Token budget 80% used', 'warning'],
  ])
    await api(ingest, 'POST', '/api/v1/alerts', { title, severity, status: 'firing', labels: { alertname: title } })
}

/**
 * Waits for a front-summaries run that started after the data was sent (the job ticks every minute):
 * the fleet and agents tiles then show the stored figures, as a running server's page does.
 */
async function summariesAfter(since: number) {
  const key = await cliKey(server, 'front-viewer', 'viewer')
  for (let i = 0; i < 180; i++) {
    const res = await server.fetch('/api/v1/jobs', { headers: { Authorization: `Bearer ${key}` } })
    const run = ((await res.json()) as Json).jobs.find((j: Json) => j.name === 'front-summaries')?.lastRun
    if (run?.status === 'success' && run.startedAt >= since) return
    if (run?.status === 'failed') throw new Error(`front-summaries failed: ${run.error}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error('front-summaries did not run within 90 s')
}

beforeAll(async () => {
  server = await startServer({ runtime: 'bun', env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } })
  await seed()
  await summariesAfter(Date.now())
  browser = await launchChromium()
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' })
  context.setDefaultTimeout(15_000)
  page = await context.newPage()
  watchProblems(page, problems, [])
  await signIn(page, server.url)
})

afterAll(() => closeAll(browser))

/** The first screen's section ids, top to bottom as laid out. */
const sectionOrder = (p: Page) =>
  p.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('main [data-section]')]
      .map((el) => ({ id: el.dataset.section!, top: el.getBoundingClientRect().top }))
      .sort((a, b) => a.top - b.top)
      .map((x) => x.id),
  )

describe('the front page', () => {
  it('shows what needs a person first, then the fleet, agents and models, then upkeep', async () => {
    await page.goto(`${server.url}/`)
    expect(await page.locator('main h1').innerText()).toBe('Overview')
    expect(await sectionOrder(page)).toEqual(['attention', 'fleet', 'agents', 'upkeep'])
    // The attention section is on the first screen, with the firing alerts by severity.
    const attention = page.locator('[data-section="attention"]')
    expect((await attention.boundingBox())!.y).toBeLessThan(900)
    expect(await page.locator('#tile-alerts').innerText()).toMatch(/1\s+critical/)
    expect(await page.locator('#tile-alerts').innerText()).toContain('planner-agent error rate above 5%')
    // The fleet: the down component first, every card with a drawn sparkline for the agents.
    const first = page.locator('#tile-fleet li.comp').first()
    expect(await first.getAttribute('data-component')).toBe('search-api')
    expect(await page.locator('[data-component="planner-agent"] svg.sparkline polyline').count()).toBeGreaterThan(0)
    expect(await page.locator('#tile-agents-models').innerText()).toContain('gpt-4o')
    // Both from the job's stored summary, which says when it was computed.
    expect(await page.locator('#tile-fleet .as-of').innerText()).toMatch(/^as of \d\d:\d\d UTC$/)
    expect(await page.locator('#tile-agents-models .as-of').innerText()).toMatch(/^as of \d\d:\d\d UTC$/)
    await page.screenshot({ path: join(SHOTS, 'front.png'), fullPage: true })
    if (process.env.UPDATE_DOCS_SHOTS === '1')
      copyFileSync(join(SHOTS, 'front.png'), join(ROOT, 'docs/img/front-page.png'))
  })

  it('a tile refreshes alone when its live event fires', async () => {
    const ingest = await cliKey(server, 'front-ingest-2', 'viewer', ['ingest'])
    await api(ingest, 'POST', '/api/v1/alerts', { title: 'disk almost full', severity: 'critical', status: 'firing' })
    const before = await page.evaluate(() => document.querySelector('#tile-fleet')!.getAttribute('data-mark'))
    await page.evaluate(() => document.querySelector('#tile-fleet')!.setAttribute('data-mark', 'kept'))
    expect(before).toBeNull()
    // What the live-updates stream dispatches on body; here by hand.
    await page.evaluate(() => document.body.dispatchEvent(new CustomEvent('live:alerts')))
    await expect.poll(() => page.locator('#tile-alerts').innerText()).toContain('disk almost full')
    expect(await page.locator('#tile-alerts').innerText()).toMatch(/2\s+critical/)
    // Only the alerts tile was swapped: the fleet tile is the same element.
    expect(await page.locator('#tile-fleet').getAttribute('data-mark')).toBe('kept')
  })

  it('the range links reload the whole page for that range', async () => {
    await page.getByRole('link', { name: '7d', exact: true }).click()
    await page.waitForURL(`${server.url}/?range=7d`)
    expect(await page.locator('.range-links a[aria-current="true"]').innerText()).toBe('7d')
    expect(await page.locator('#tile-fleet').getAttribute('hx-get')).toBe('/front/tiles/fleet?range=7d')
  })

  it('has no serious or critical accessibility violations (axe-core)', async () => {
    await page.goto(`${server.url}/`)
    // The stream's first `ready` refreshes every tile once (public/live.js): check the page after that.
    await page.waitForSelector('html[data-live="stream"]', { timeout: 15_000 })
    await page.waitForFunction(() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling'))
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
    // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) does not apply.
    await page.evaluate(axe)
    const violations = await page.evaluate(async () => {
      const result = await (window as unknown as { axe: { run: (ctx: unknown) => Promise<Json> } }).axe.run(document)
      return (result.violations as Json[]).map((v) => ({
        id: v.id as string,
        impact: v.impact as string,
        nodes: (v.nodes as Json[]).slice(0, 3).map((n) => n.target.join(' ')),
      }))
    })
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    expect(bad, JSON.stringify(bad, null, 2)).toEqual([])
    expect(problems).toEqual([])
  })
})
