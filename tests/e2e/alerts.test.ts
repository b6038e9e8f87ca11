/**
 * Alerts in a real browser: an operator creates a rule from the "Health degradation" template in
 * the rules form, a breaching `up` point is ingested with an ingest key made by the CLI, the alert
 * fires and shows on /alerts (the after-ingest evaluation makes it quick), then it is opened,
 * acknowledged through the Slack-style ack link's confirmation, silenced from its labels (with the
 * preview), and resolved. Also: per-kind rule fields, Enable/Disable swapping the row in place, an
 * edit of the rule, and a policy with two escalation steps created and edited. Screenshots land in
 * tests/e2e/screenshots/alerts-*.png.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { ADMIN, closeAll, screenshot, startSignedIn } from '../helpers/browser.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, until, type RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page
let receiver: Server | undefined
const shot = (name: string) => screenshot(page, `alerts-${name}`)

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
})

afterAll(async () => {
  receiver?.close()
  await closeAll(browser)
})

describe('a rule from a template, a breach, and the alert through its lifecycle', () => {
  let alertUrl = ''

  it('creates a rule from the Health degradation template; Test now finds nothing yet', async () => {
    await page.goto(`${server.url}/alerts/rules`)
    await Promise.all([
      page.waitForURL(/template=health-degradation/),
      page.getByRole('link', { name: 'Health degradation' }).click(),
    ])
    expect(await page.locator('#rule-form input[name="metric"]').inputValue()).toBe('up')
    expect(await page.locator('#rule-form select[name="comparator"]').inputValue()).toBe('<')
    await page.getByRole('button', { name: 'Test now' }).click()
    await expect.poll(() => page.locator('#rule-test').innerText()).toContain('Nothing matches')
    await Promise.all([
      page.waitForURL(/\/alerts\/rules\?created=\w+#rule-/),
      page.getByRole('button', { name: 'Create rule' }).click(),
    ])
    await expect.poll(() => page.locator('#rules').innerText()).toContain('Component health degraded')
    await shot('rules')
  })

  it('shows each kind its own fields, not raw JSON', async () => {
    const form = page.locator('#rule-form')
    expect(await form.locator('fieldset[data-kind="ratio"]').isVisible()).toBe(false)
    await form.locator('select[name="kind"]').selectOption('ratio')
    expect(await form.locator('input[name="p_denominator"]').isVisible()).toBe(true)
    expect(await form.locator('input[name="p_minutes"]').isVisible()).toBe(false)
    await form.locator('select[name="kind"]').selectOption('absence')
    expect(await form.locator('input[name="p_minutes"]').isVisible()).toBe(true)
    expect(await form.locator('input[name="params"]').count()).toBe(0)
  })

  it('Disable and Enable update the row in place (no fragment redirect that would not reload)', async () => {
    const row = page.locator('#rules tr[data-rule="Component health degraded"]')
    await row.getByRole('button', { name: 'Disable' }).click()
    await expect.poll(() => row.getAttribute('data-enabled')).toBe('false')
    expect(await row.getByRole('button', { name: 'Enable' }).count()).toBe(1)
    await page.reload()
    expect(await row.getAttribute('data-enabled')).toBe('false') // stored, not only shown
    await row.getByRole('button', { name: 'Enable' }).click()
    await expect.poll(() => row.getAttribute('data-enabled')).toBe('true')
    expect(await row.locator('td').nth(4).innerText()).toBe('yes')
  })

  it('edits the rule through the same form, prefilled', async () => {
    const row = page.locator('#rules tr[data-rule="Component health degraded"]')
    await Promise.all([page.waitForURL(/\?edit=/), row.getByRole('link', { name: 'Edit' }).click()])
    const form = page.locator('#rule-form')
    expect(await form.locator('input[name="metric"]').inputValue()).toBe('up')
    await form.locator('input[name="description"]').fill('Edited in the browser test')
    await form.locator('input[name="window"]').fill('2 minutes')
    await form.getByRole('button', { name: 'Save rule' }).click()
    await expect.poll(() => page.locator('#flash').innerText()).toContain('window') // named by the server
    await expect.poll(() => form.locator('#err-window').innerText()).toContain('must be a duration') // and beside the field
    expect(await form.locator('#err-name').innerText()).toBe('')
    await form.locator('input[name="window"]').fill('2m')
    await Promise.all([
      page.waitForURL(/\/alerts\/rules#rule-/),
      form.getByRole('button', { name: 'Save rule' }).click(),
    ])
    await expect.poll(() => page.locator('#rules').innerText()).toContain('over 2m')
    await shot('rule-edited')
  })

  it('fires when a breaching point is ingested, and shows on the live list', async () => {
    const made = await runCli(
      ['keys', 'create', '--name', 'agent', '--role', 'viewer', '--scope', 'ingest'],
      server.env,
    )
    expect(made.code, made.stderr).toBe(0)
    const res = await server.fetch('/api/v1/metrics', {
      method: 'POST',
      body: JSON.stringify({ name: 'up', value: 0, labels: { component: 'checkout', env: 'prod' } }),
      headers: { Authorization: `Bearer ${made.stdout.trim()}`, 'Content-Type': 'application/json' },
    })
    expect(res.status).toBe(200)
    await page.goto(`${server.url}/alerts`)
    // The list polls itself every 5 s; the evaluation after ingest makes the alert within moments.
    await until(
      'the alert on the list',
      async () => ((await page.locator('#alert-list').innerText()).includes('checkout is degraded') ? true : undefined),
      20_000,
      250,
    )
    expect(await page.locator('[data-count="firing"] strong').innerText()).toBe('1')
    expect(await page.locator('#alerts tr[data-status="firing"] .pill.sev-critical').count()).toBe(1)
    await shot('list')
    await page.setViewportSize({ width: 390, height: 844 })
    await shot('list-phone')
    await page.setViewportSize({ width: 1280, height: 800 })
    await Promise.all([
      page.waitForURL(/\/alerts\/[0-9A-Z]{26}$/),
      page.getByRole('link', { name: /checkout is degraded/ }).click(),
    ])
    alertUrl = page.url()
    const main = await page.locator('main').innerText()
    expect(main).toContain('component=checkout')
    expect(await page.locator('#timeline [data-event="fired"]').count()).toBe(1)
    await shot('detail')
  })

  it('the ack link asks first, and acknowledges on confirmation', async () => {
    await page.goto(`${alertUrl}?action=acknowledge`)
    await expect.poll(() => page.locator('#ack-confirm').innerText()).toContain('Acknowledge')
    expect(await page.locator('h1 .pill.st-firing').count()).toBe(1) // the GET changed nothing
    await shot('ack-confirm')
    await Promise.all([page.waitForURL(alertUrl), page.getByRole('button', { name: 'Confirm acknowledge' }).click()])
    await expect.poll(() => page.locator('h1').innerText()).toContain('acknowledged')
    expect(await page.locator('#timeline [data-event="acked"]').count()).toBe(1)
  })

  it('is silenced from its labels, with a preview of what the silence matches', async () => {
    await Promise.all([page.waitForURL(/\/alerts\/silences\?/), page.getByRole('link', { name: 'Silence…' }).click()])
    expect(await page.locator('textarea[name="matchers"]').inputValue()).toContain('component="checkout"')
    await expect.poll(() => page.locator('#silence-preview').innerText()).toContain('checkout is degraded')
    const prefilled = await page.locator('textarea[name="matchers"]').inputValue()
    await page.locator('textarea[name="matchers"]').fill('component="billing"')
    await expect.poll(() => page.locator('#silence-preview').innerText()).toContain('No open alert matches')
    await page.locator('textarea[name="matchers"]').fill(prefilled)
    await expect.poll(() => page.locator('#silence-preview').innerText()).toContain('checkout is degraded')
    await page.locator('input[name="comment"]').fill('deploying a fix')
    await Promise.all([
      page.waitForURL(/\/alerts\/silences$/),
      page.getByRole('button', { name: 'Create silence' }).click(),
    ])
    await expect.poll(() => page.locator('#silences-active').innerText()).toContain('deploying a fix')
    await shot('silences')
    await page.goto(alertUrl)
    expect(await page.locator('h1 .pill.st-silenced').count()).toBe(1)
    expect(await page.locator('#timeline [data-event="silenced"]').count()).toBe(1)
  })

  it('is resolved by hand', async () => {
    await Promise.all([page.waitForURL(alertUrl), page.getByRole('button', { name: 'Resolve' }).click()])
    // The history records it (the rule may fire it again later while `up` stays 0).
    await expect.poll(() => page.locator('#timeline [data-event="resolved"]').count()).toBe(1)
    expect(await page.locator('#timeline [data-event="resolved"]').innerText()).toContain(ADMIN.email)
    await shot('resolved')
  })
})

describe('channels', () => {
  it('a webhook channel is created through its form (secret shown once) and sends a test', async () => {
    const received: string[] = []
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        received.push(`${req.headers['x-homeostat-signature'] ? 'signed' : 'unsigned'} ${body}`)
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok')
      })
    })
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve))
    const port = (receiver.address() as AddressInfo).port
    await page.goto(`${server.url}/alerts/channels`)
    await page.locator('#new-channel summary', { hasText: 'webhook' }).click()
    const form = page.locator('#new-channel form:has(input[value="webhook"])')
    await form.locator('input[name="name"]').fill('ops-webhook')
    await form.locator('input[name="url"]').fill(`http://127.0.0.1:${port}/hook`)
    await form.getByRole('button', { name: 'Create webhook channel' }).click()
    await expect.poll(() => page.locator('#signing-secret').innerText()).toMatch(/^whsec_/)
    await page.goto(`${server.url}/alerts/channels`)
    const row = page.locator('tr[data-channel="ops-webhook"]')
    expect(await row.innerText()).not.toContain(`${port}/hook`) // the URL is a secret: masked
    await row.getByRole('button', { name: 'Send test' }).click()
    await expect.poll(() => row.innerText()).toContain('Sent: 200')
    expect(received).toHaveLength(1)
    expect(received[0]).toMatch(/^signed .*Test notification from Homeostat/)
    await shot('channels')
  })

  it('a policy with two escalation steps is created, then edited', async () => {
    await page.goto(`${server.url}/alerts/policies`)
    const form = page.locator('#new-policy form')
    await form.locator('input[name="name"]').fill('critical-escalation')
    await form.locator('textarea[name="matchers"]').fill('severity="critical"')
    const steps = form.locator('.esc-step')
    await steps.nth(0).locator('input[name^="esc_after_"]').fill('10m')
    await steps.nth(0).getByLabel('ops-webhook').check()
    await steps.nth(1).locator('input[name^="esc_after_"]').fill('30m')
    await steps.nth(1).getByLabel('ops-webhook').check()
    await Promise.all([
      page.waitForURL(/\/alerts\/policies$/),
      form.getByRole('button', { name: 'Create policy' }).click(),
    ])
    const row = page.locator('tr[data-policy="critical-escalation"]')
    await expect.poll(() => row.innerText()).toContain('after 10m → ops-webhook; after 30m → ops-webhook')
    await Promise.all([page.waitForURL(/\?edit=/), row.getByRole('link', { name: 'Edit' }).click()])
    const edit = page.locator('#policy-form')
    expect(await edit.locator('input[name="esc_after_1"]').inputValue()).toBe('30m')
    await edit.locator('input[name="esc_after_1"]').fill('45m')
    await Promise.all([
      page.waitForURL(/\/alerts\/policies$/),
      edit.getByRole('button', { name: 'Save policy' }).click(),
    ])
    await expect
      .poll(() => page.locator('tr[data-policy="critical-escalation"]').innerText())
      .toContain('after 10m → ops-webhook; after 45m → ops-webhook')
    await shot('policies')
  })
})
