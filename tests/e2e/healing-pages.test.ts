/**
 * The healing dashboard in a real browser against the real server (Bun, jobs running): an admin
 * creates a model route and a rule that needs approval from the pages (and simulates it), a
 * breaker opening reported through the API makes an action that shows as pending on the live
 * overview, it is approved there, its timeline reaches SUCCESS on the action page, the route has
 * moved, the breaker is reset, and the statistics count it. Screenshots land in
 * tests/e2e/screenshots/healing-*.png.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, closeAll, screenshot, startSignedIn } from '../helpers/browser.ts'
import { cliKey, until, type RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page
const PRIMARY = 'http://127.0.0.1:9'
const FALLBACK = 'http://127.0.0.1:10'
const KEY = `model:${PRIMARY}/llama3:8b`
const shot = (name: string) => screenshot(page, `healing-${name}`)

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
})

afterAll(async () => {
  await closeAll(browser)
})

describe('a route, a rule that needs approval, and an approved failover', () => {
  let actionUrl = ''

  it('creates a model route from its form; bad input is named in the flash area', async () => {
    await page.goto(`${server.url}/healing/routes`)
    const form = page.locator('#route-form')
    await form.locator('input[name="name"]').fill('chat')
    await form.locator('textarea[name="targets"]').fill(`llama3:8b ftp://nowhere`)
    await form.getByRole('button', { name: 'Create route' }).click()
    await expect.poll(() => page.locator('#flash').innerText()).toContain('targets.0.host')
    await form.locator('textarea[name="targets"]').fill(`llama3:8b ${PRIMARY}\nllama3:8b ${FALLBACK}`)
    await Promise.all([
      page.waitForURL(`${server.url}/healing/routes/chat`),
      form.getByRole('button', { name: 'Create route' }).click(),
    ])
    expect(await page.locator('#target-table tr[data-active="true"]').getAttribute('data-target')).toBe('0')
    await shot('route')
  })

  it('creates a rule that requires approval, and simulates it over the last 24 h', async () => {
    await page.goto(`${server.url}/healing/rules`)
    const form = page.locator('#rule-form')
    await form.locator('input[name="name"]').fill('fail over chat')
    expect(await form.locator('select[name="trigger.type"]').inputValue()).toBe('breaker')
    await form.locator('input[name="trigger.keyPattern"]').fill('^model:')
    await form.locator('select[name="actionType"]').selectOption('model_failover')
    await form.locator('input[name="target"]').fill('chat')
    await form.locator('select[name="mode"]').selectOption('requires_approval')
    await form.getByRole('button', { name: 'Simulate' }).click()
    await expect.poll(() => page.locator('#simulation').innerText()).toContain('Nothing would have triggered')
    await Promise.all([
      page.waitForURL(/\/healing\/rules\/[0-9A-Z]{26}$/),
      form.getByRole('button', { name: 'Create rule' }).click(),
    ])
    expect(await page.locator('#rule-form select[name="mode"]').inputValue()).toBe('requires_approval')
    await page.goto(`${server.url}/healing/rules`)
    const row = page.locator('#rules tr[data-rule="fail over chat"]')
    expect(await row.innerText()).toContain('approval')
    await row.getByRole('button', { name: 'Disable' }).click()
    await expect
      .poll(() => page.locator('#rules tr[data-rule="fail over chat"]').getAttribute('data-enabled'))
      .toBe('false')
    await page.locator('#rules tr[data-rule="fail over chat"]').getByRole('button', { name: 'Enable' }).click()
    await expect
      .poll(() => page.locator('#rules tr[data-rule="fail over chat"]').getAttribute('data-enabled'))
      .toBe('true')
    await shot('rules')
  })

  it('a breaker opening shows a pending action on the live overview; approving it runs the failover', async () => {
    await page.goto(`${server.url}/healing`)
    expect(await page.locator('#pending-actions').count()).toBe(0)
    const key = await cliKey(server, 'agent', 'operator')
    for (let i = 0; i < 10; i++) {
      const res = await server.fetch(`/api/v1/healing/breakers/${encodeURIComponent(KEY)}/report`, {
        method: 'POST',
        body: JSON.stringify({ ok: false, error: 'connection refused' }),
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      })
      expect(res.status).toBe(200)
      if (((await res.json()) as { state: string }).state === 'OPEN') break
    }
    // The overview polls itself every 5 s; the healing job runs every second.
    const pending = page.locator('#pending-actions tr[data-status="PENDING_APPROVAL"]')
    await until(
      'the pending action on the overview',
      async () => ((await pending.count()) === 1 ? true : undefined),
      20_000,
      250,
    )
    expect(await pending.innerText()).toContain('model_failover')
    expect(await page.locator(`#breaker-table tr[data-breaker="${KEY}"]`).getAttribute('data-state')).toBe('OPEN')
    await shot('overview-pending')
    await Promise.all([
      page.waitForURL(/\/healing\/actions\/[0-9A-Z]{26}$/),
      pending.getByRole('button', { name: 'Approve' }).click(),
    ])
    actionUrl = page.url()
    // The action page polls its timeline every 2 s until the action is final.
    await until(
      'the action reaching SUCCESS',
      async () => ((await page.locator('#action-live[data-status="SUCCESS"]').count()) === 1 ? true : undefined),
      20_000,
      250,
    )
    const events = await page.locator('#timeline li').evaluateAll((xs) => xs.map((x) => x.getAttribute('data-event')))
    expect(events[0]).toBe('PENDING_APPROVAL')
    expect(events).toContain('RUNNING')
    expect(events.at(-1)).toBe('SUCCESS')
    expect(await page.locator('#timeline').innerText()).toContain(ADMIN.email)
    expect(await page.locator('#action-output').innerText()).toMatch(/"to": 1/)
    await shot('action')
  })

  it('the route has moved to its fallback; the breaker is reset from the breakers page', async () => {
    await page.goto(`${server.url}/healing/routes/chat`)
    expect(await page.locator('#target-table tr[data-active="true"]').getAttribute('data-target')).toBe('1')
    expect(await page.locator('#route-history').innerText()).toContain(`healing:${actionUrl.split('/').at(-1)}`)
    await page.goto(`${server.url}/healing/breakers`)
    const row = page.locator(`#breaker-table tr[data-breaker="${KEY}"]`)
    await Promise.all([
      page.waitForURL(`${server.url}/healing/breakers`),
      row.getByRole('button', { name: 'Reset' }).click(),
    ])
    await expect
      .poll(() => page.locator(`#breaker-table tr[data-breaker="${KEY}"]`).getAttribute('data-state'))
      .toBe('CLOSED')
    await shot('breakers')
  })

  it('the statistics count the failover', async () => {
    await page.goto(`${server.url}/healing`)
    await Promise.all([
      page.waitForURL(`${server.url}/healing/stats`),
      page.getByRole('navigation', { name: 'Healing sections' }).getByRole('link', { name: 'Statistics' }).click(),
    ])
    expect(await page.locator('#stats-overall [data-total]').innerText()).toBe('1')
    expect(await page.locator('#stats-type').innerText()).toMatch(/model_failover\s+1\s+1\s+0/)
    expect(await page.locator('#stats-rule').innerText()).toContain('fail over chat')
    expect(await page.locator('#stats-overall [data-rate]').innerText()).toBe('100%')
    await shot('stats')
    await Promise.all([page.waitForURL(/window=7d/), page.getByRole('link', { name: '7d', exact: true }).click()])
    expect(await page.locator('#stats-overall [data-total]').innerText()).toBe('1')
  })
})
