/**
 * The public status page in a real browser (Debian chromium via playwright-core) against the real
 * server under Bun: read signed out, with and without JavaScript, checked by axe-core (no serious or
 * critical violations, light and dark), its Atom feed parsed by the browser's XML parser; and an
 * admin making an alert public from the alert's page. The laptop screenshot (light) is the one in docs/:
 * with UPDATE_DOCS_SHOTS=1 it is copied to docs/img/status-page.png.
 */
import { copyFileSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../../db/client.ts'
import { ADMIN, SHOTS, closeAll, launchChromium, signIn, watchProblems } from '../helpers/browser.ts'
import { cliKey, ROOT, startServer, type RunningServer } from '../helpers/server.ts'

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const DAY = 86_400_000
type Json = Record<string, any>

let server: RunningServer
let browser: Browser
let admin: Record<string, string>
let alertId: string
const problems: string[] = []

async function api(method: string, path: string, body?: unknown) {
  const res = await server.fetch(path, {
    method,
    headers: { ...admin, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as Json
}

/**
 * 90 days of history for a component: up every day but for the outage days given (hours down),
 * written as the checks write it (each row holds the previous state's span).
 */
async function seedHistory(id: string, downHours: Record<number, number>) {
  const { db, client } = await openDb({ url: server.env.DATABASE_URL! })
  const today = Math.floor(Date.now() / DAY) * DAY
  const stmts: { sql: string; args: (number | string)[] }[] = []
  for (let d = 89; d >= 1; d--) {
    const start = today - d * DAY
    const down = (downHours[d] ?? 0) * 3_600_000
    if (down) stmts.push(row(id, start + down, start, 0, down))
    stmts.push(row(id, start + DAY, start + down, 1, DAY - down))
  }
  await client.batch(stmts, 'write')
  await client.execute({
    sql: "update components set status = 'up', last_check_at = ?, status_since = ? where id = ?",
    args: [Date.now() - 1000, today, id],
  })
  void db
  client.close()
}
const row = (id: string, ts: number, prevTs: number, prevUp: number, held: number) => ({
  sql: "insert into status_history (component_id, ts, up, source, prev_ts, prev_up, held_ms) values (?, ?, 1, 'push', ?, ?, ?)",
  args: [id, ts, prevTs, prevUp, held],
})

async function axe(page: Page) {
  await page.evaluate(AXE)
  const result = (await page.evaluate(() =>
    (window as unknown as { axe: { run: (o: unknown) => Promise<unknown> } }).axe.run({ resultTypes: ['violations'] }),
  )) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

beforeAll(async () => {
  server = await startServer({ runtime: 'bun', env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } })
  admin = { Authorization: `Bearer ${await cliKey(server, 'status-admin', 'admin')}` }
  const ingest = { Authorization: `Bearer ${await cliKey(server, 'status-ingest', 'operator', ['ingest'])}` }
  const made = await Promise.all(
    ['edge-gw-internal', 'pg-primary-10.0.3.7', 'qdrant-prod'].map((name) =>
      api('POST', '/api/v1/components', {
        name,
        kind: 'service',
        push: { expectedIntervalSeconds: 3600, graceSeconds: 600 },
      }),
    ),
  )
  const [web, db, search] = made as [Json, Json, Json]
  await seedHistory(web.id, { 61: 5, 12: 1 })
  await seedHistory(db.id, { 33: 14, 5: 2 })
  await seedHistory(search.id, {})
  const page = await api('POST', '/api/v1/status-pages', {
    slug: 'acme',
    title: 'Acme Cloud',
    logoText: 'AC',
    footer: 'Acme Cloud, Inc. · support@acme.example',
    published: true,
    groups: [
      {
        name: 'Website and API',
        components: [
          { componentId: web.id, displayName: 'Public API' },
          { componentId: search.id, displayName: 'Search' },
        ],
      },
      { name: 'Data', components: [{ componentId: db.id, displayName: 'Database' }] },
    ],
  })
  // An incident in the past, resolved.
  const past = await api('POST', `/api/v1/status-pages/${page.id}/incidents`, {
    title: 'Database failover',
    message: 'The primary database stopped answering; we are failing over.',
    impact: 'major',
    componentIds: [db.id],
    startedAt: Date.now() - 5 * DAY,
  })
  await api('POST', `/api/v1/status-incidents/${past.id}/updates`, {
    status: 'resolved',
    message: 'Failover complete; all writes were kept.',
  })
  // A public maintenance window tomorrow.
  const silence = await server.fetch('/api/v1/silences', {
    method: 'POST',
    headers: { ...admin, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      matchers: [{ label: 'host', op: '=', value: 'pg-primary-10.0.3.7' }],
      startsAt: Date.now() + DAY,
      duration: '2h',
    }),
  })
  await api('PUT', `/api/v1/silences/${((await silence.json()) as Json).id}/public`, { title: 'Database upgrade' })
  const fired = await server.fetch('/api/v1/alerts', {
    method: 'POST',
    headers: { ...ingest, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      title: 'edge-gw-internal p95 > 2s',
      severity: 'critical',
      status: 'firing',
      labels: { instance: 'edge-gw-internal:9100' },
    }),
  })
  alertId = ((await fired.json()) as { alert: Json }).alert.id
  browser = await launchChromium()
}, 120_000)

afterAll(() => closeAll(browser))

describe('an admin makes an alert public', () => {
  it('from the alert page: a public title and message open an incident on the page', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    watchProblems(page, problems, [])
    await signIn(page, server.url)
    await page.goto(`${server.url}/alerts/${alertId}`)
    await page.getByRole('link', { name: 'Make public…' }).click()
    await page.getByLabel('Public title').fill('Slow API responses')
    await page.getByLabel('What visitors are told').fill('Some API requests are slow; we are looking into it.')
    await page.getByLabel('Impact').selectOption('minor')
    await Promise.all([
      page.waitForURL(/\/status-incidents\/\w+$/),
      page.getByRole('button', { name: 'Make public' }).click(),
    ])
    expect(await page.locator('main h1').innerText()).toBe('Slow API responses')
    await page.getByLabel('Status').selectOption('identified')
    await page.getByLabel('Message').fill('A slow dependency; a fix is rolling out.')
    await Promise.all([page.waitForResponse(/\/updates$/), page.getByRole('button', { name: 'Post update' }).click()])
    // The answer is swapped into the page after the response: wait for the update to show, then read it.
    await page.locator('main').getByText('A slow dependency; a fix is rolling out.').first().waitFor()
    expect(await page.locator('main').innerText()).toContain('A slow dependency')
    await context.close()
  })
})

describe('the status page, signed out', () => {
  it('is read without JavaScript: states, bars, incidents, maintenance', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false })
    const page = await context.newPage()
    const res = await page.goto(`${server.url}/status/acme`)
    expect(res?.status()).toBe(200)
    expect(new URL(page.url()).pathname).toBe('/status/acme')
    expect(await page.locator('h1').innerText()).toBe('Acme Cloud')
    const text = await page.locator('main').innerText()
    for (const s of [
      'Active incidents',
      'Slow API responses',
      'Identified',
      'Database upgrade',
      'Past incidents',
      'Database failover',
    ])
      expect(text).toContain(s)
    expect(text).not.toMatch(/edge-gw-internal|pg-primary|qdrant-prod|10\.0\.3\.7/)
    expect(await page.locator('.component').count()).toBe(3)
    // Days showing the same figure are one element (class nN) drawn as N bars: every element takes N
    // days' share of the row, so each of the 90 days has the same width, as when each was an element.
    const bars = await page
      .locator('.component')
      .first()
      .locator('.b')
      .evaluateAll((els) =>
        els.map((e) => ({
          n: Number(/\bn(\d+)\b/.exec(e.className)?.[1] ?? 1),
          width: e.getBoundingClientRect().width,
          title: e.getAttribute('title') ?? '',
          cls: e.className,
        })),
      )
    expect(bars.reduce((sum, b) => sum + b.n, 0)).toBe(90)
    expect(bars.length).toBeLessThan(10)
    const day = (b: { n: number; width: number }) => (b.width + 2) / b.n
    for (const b of bars) expect(Math.abs(day(b) - day(bars[0]!))).toBeLessThan(0.05)
    // A bad day keeps its own bar and title; a run's title gives its dates and figure.
    const bad = bars.filter((b) => / (bad|minor)/.test(b.cls))
    expect(bad.length).toBe(2)
    for (const b of bad) expect(b.title).toMatch(/^\d{4}-\d{2}-\d{2}: \d+\.\d\d %$/)
    expect(bars[0]!.title).toMatch(/^\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}: (100 %|no data)$/)
    expect(await page.locator('.b.bad, .b.minor').count()).toBeGreaterThan(0)
    await context.close()
  })

  it('has no serious or critical accessibility violations (axe-core), light and dark; the feed parses', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme })
      const page = await context.newPage()
      watchProblems(page, problems, [])
      await page.goto(`${server.url}/status/acme`)
      expect(await axe(page)).toEqual([])
      await page.screenshot({ path: join(SHOTS, `status-page-${colorScheme}.png`), fullPage: true })
      if (colorScheme === 'light' && process.env.UPDATE_DOCS_SHOTS === '1')
        copyFileSync(join(SHOTS, 'status-page-light.png'), join(ROOT, 'docs/img/status-page.png'))
      if (colorScheme === 'light') {
        const feed = await page.evaluate(async () => {
          const body = await (await fetch(location.pathname + '/feed.atom')).text()
          const doc = new DOMParser().parseFromString(body, 'application/xml')
          return {
            error: doc.querySelector('parsererror')?.textContent ?? null,
            ns: doc.documentElement.namespaceURI,
            titles: [...doc.querySelectorAll('entry > title')].map((e) => e.textContent),
          }
        })
        expect(feed).toEqual({
          error: null,
          ns: 'http://www.w3.org/2005/Atom',
          titles: ['Slow API responses', 'Database failover'],
        })
      }
      await context.close()
    }
    // A phone: no sideways scrolling.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await phone.newPage()
    await page.goto(`${server.url}/status/acme`)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    expect(await axe(page)).toEqual([])
    await phone.close()
    expect(problems).toEqual([])
  })
})
