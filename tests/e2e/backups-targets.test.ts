/**
 * Backups → Targets in a real browser against the real server (Bun): the form shows only the fields
 * of the chosen kind and destination (CSS, no script), an admin creates a Qdrant target stored in S3
 * from it, and the list shows it with its secrets masked. Screenshot: tests/e2e/screenshots/backups-targets.png.
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

describe('the backup targets page', () => {
  it('shows the fields of the chosen kind and destination, and creates a target with its secrets masked', async () => {
    await page.goto(`${server.url}/backup-targets`)
    const form = page.locator('form.target-form')
    const qdrantUrl = form.locator('input[name="config.url"]')
    const bucket = form.locator('input[name="destination.bucket"]')
    await form.locator('select[name="kind"]').selectOption('command')
    expect(await qdrantUrl.isVisible()).toBe(false)
    await form.locator('select[name="kind"]').selectOption('qdrant')
    expect(await qdrantUrl.isVisible()).toBe(true)
    expect(await bucket.isVisible()).toBe(false)
    await form.locator('select[name="destination.kind"]').selectOption('s3')
    expect(await bucket.isVisible()).toBe(true)

    await form.locator('input[name="name"]').fill('vectors')
    await qdrantUrl.fill('http://127.0.0.1:6333')
    await form.locator('input[name="config.collection"]').fill('docs')
    await form.locator('input[name="config.apiKey"]').fill('browser-qdrant-key-1')
    await form.locator('input[name="destination.endpoint"]').fill('http://127.0.0.1:9000')
    await bucket.fill('backups')
    await form.locator('input[name="destination.accessKeyId"]').fill('AKIABROWSER')
    await form.locator('input[name="destination.secretAccessKey"]').fill('browser-s3-secret-2')
    await form.getByRole('button', { name: 'Create target' }).click()
    await expect.poll(() => page.locator('#backup-targets').innerText()).toContain('vectors')
    const list = await page.locator('#backup-targets').innerText()
    expect(list).toContain('http://127.0.0.1:6333')
    expect(list).not.toContain('browser-qdrant-key-1')
    expect(list).not.toContain('browser-s3-secret-2')
    await screenshot(page, 'backups-targets')
  })
})
