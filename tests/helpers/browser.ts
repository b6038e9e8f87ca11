import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { killAll, ROOT, startServer } from './server.ts'

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
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
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

/**
 * The real server (Bun) with ADMIN made from ADMIN_EMAIL, and a laptop-sized page signed in as
 * ADMIN that accepts confirmation dialogs (hx-confirm). End with `closeAll(browser)`.
 */
export async function startSignedIn() {
  const server = await startServer({
    runtime: 'bun',
    env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
  })
  const browser = await launchChromium()
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  context.setDefaultTimeout(15_000)
  const page = await context.newPage()
  page.on('dialog', (d) => void d.accept())
  await signIn(page, server.url)
  return { server, browser, page }
}

/** Closes the browser, if one started, and stops every server the tests started. */
export async function closeAll(browser: Browser | undefined) {
  await browser?.close().catch(() => {})
  await killAll()
}

/** A full-page screenshot from the top of the page, in tests/e2e/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

/**
 * Notes in `problems` each console error, page error, failed request and HTTP error of the page,
 * unless it matches one of `expected` (problems a test provokes on purpose).
 */
export function watchProblems(page: Page, problems: string[], expected: RegExp[]) {
  const note = (problem: string) => {
    if (!expected.some((re) => re.test(problem))) problems.push(problem)
  }
  page.on('console', (m) => {
    if (m.type() === 'error') note(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => note(`pageerror: ${e.message}`))
  page.on('requestfailed', (r) => {
    // A navigation cancels loads still running on the page it leaves; that is not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') note(`requestfailed: ${r.url()} ${r.failure()?.errorText}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico'))
      note(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`)
  })
}
