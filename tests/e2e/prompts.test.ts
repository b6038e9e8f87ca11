/**
 * The prompts pages in a real browser against the real server (Bun): an admin creates a prompt and
 * two versions through the forms, sees the diff, moves production with a button, and the agents'
 * read follows. Screenshot: tests/e2e/screenshots/prompts.png.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, screenshot, startSignedIn } from '../helpers/browser.ts'
import type { RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
})
afterAll(async () => {
  await closeAll(browser)
})

describe('the prompts pages', () => {
  it('creates a prompt and versions, shows the diff, and moves production with a button', async () => {
    await page.goto(`${server.url}/prompts`)
    expect(await page.getByRole('link', { name: 'Prompts' }).getAttribute('aria-current')).toBe('page')
    const create = page.locator('#prompt-form')
    await create.locator('input[name="name"]').fill('support')
    await Promise.all([page.waitForURL(`${server.url}/prompts/support`), create.getByRole('button').click()])

    const form = page.locator('#version-form')
    await form.locator('textarea[name="template"]').fill('Help {{customer}}.\nBe brief.')
    await form.locator('input[name="label"]').fill('production')
    await form.getByRole('button', { name: 'Add version' }).click()
    await expect.poll(() => page.locator('#prompt-labels').innerText()).toContain('production → version 1')

    await form.locator('textarea[name="template"]').fill('Help {{customer}}.\nBe brief and kind.')
    await form.locator('input[name="label"]').fill('staging')
    await form.getByRole('button', { name: 'Add version' }).click()
    await expect.poll(() => page.locator('#prompt-labels').innerText()).toContain('staging → version 2')
    const diff = await page.locator('#prompt-diff').innerText()
    expect(diff).toContain('- Be brief.')
    expect(diff).toContain('+ Be brief and kind.')

    await page.locator('tr[data-version="2"]').getByRole('button', { name: 'production' }).click()
    await expect.poll(() => page.locator('#prompt-labels').innerText()).toContain('production → version 2')
    expect(await page.locator('#prompt-history').innerText()).toContain('production 1 → 2')
    await screenshot(page, 'prompts')

    const read = await page.request.get(`${server.url}/api/v1/prompts/support?var.customer=ACME`)
    expect(read.status()).toBe(200)
    expect(((await read.json()) as { compiled: string }).compiled).toBe('Help ACME.\nBe brief and kind.')
  })
})
