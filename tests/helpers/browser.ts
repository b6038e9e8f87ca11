import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { ROOT } from './server.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const SHOTS = join(ROOT, 'tests/e2e/screenshots')
export const ADMIN = { email: 'admin@example.com', password: 'a long admin password' }

/**
 * Debian's chromium driven by playwright-core (`npx playwright install` cannot work here). The
 * background-networking flags keep it from calling out of this closed machine.
 */
export function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`)
  mkdirSync(SHOTS, { recursive: true })
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
    timeout: 60_000,
  })
}

/** Signs in through the login form and waits for the Overview. */
export async function signIn(page: Page, baseUrl: string, who = ADMIN) {
  await page.goto(`${baseUrl}/login`)
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.getByRole('button', { name: 'Sign in' }).click()])
}
