/**
 * The dashboard in a real browser (Debian chromium driven by playwright-core) against the real
 * server under Bun: sign in, every section, API keys through the htmx form (shown once, listed once,
 * revoked), users, audit log, keyboard use, phone and dark-mode views, sign out. Screenshots of each
 * page land in tests/e2e/screenshots/ (git-ignored) for a person to look at.
 */
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ADMIN, SHOTS, closeAll, launchChromium, watchProblems } from '../helpers/browser.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, until, type RunningServer } from '../helpers/server.ts'

const LAPTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

let server: RunningServer
let browser: Browser
let laptop: BrowserContext
let page: Page
const problems: string[] = [] // console errors, page errors, failed requests, CSP refusals
const expected: RegExp[] = [] // problems a test provokes on purpose

const watch = (p: Page) => watchProblems(p, problems, expected)

const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
/** How wide the page lays out; more than the viewport means sideways scrolling (or zoomed-out text on a phone). */
const layoutWidth = (p: Page) =>
  p.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth))
const path = (p: Page) => new URL(p.url()).pathname + new URL(p.url()).search
const h1 = (p: Page) => p.locator('main h1').first().innerText()
const whoami = (key: string) => server.fetch('/api/v1/whoami', { headers: { Authorization: `Bearer ${key}` } })

beforeAll(async () => {
  server = await startServer({ runtime: 'bun', env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } })
  browser = await launchChromium()
  laptop = await browser.newContext({ viewport: LAPTOP, colorScheme: 'light' })
  laptop.setDefaultTimeout(15_000)
  page = await laptop.newPage()
  watch(page)
})

afterAll(() => closeAll(browser))

describe('the dashboard on a laptop', () => {
  it('sends a visitor to the sign-in page, and signs in to the Overview', async () => {
    await page.goto(`${server.url}/`)
    expect(path(page)).toBe('/login?next=%2F')
    await expect(page.getByRole('button', { name: 'Sign in' }).isVisible()).resolves.toBe(true)
    await shot(page, 'login')

    await page.getByLabel('Email').fill(ADMIN.email)
    await page.getByLabel('Password').fill(ADMIN.password)
    await Promise.all([page.waitForURL(`${server.url}/`), page.getByRole('button', { name: 'Sign in' }).click()])
    expect(await h1(page)).toBe('Overview')
    expect(await page.locator('.who').innerText()).toContain(ADMIN.email)
    await shot(page, 'overview')
    // The readiness tiles (Settings → System): database, disk, migrations and scheduler are all OK.
    await page.goto(`${server.url}/settings/system`)
    expect(await h1(page)).toBe('System')
    expect(await page.locator('.tile.ok').count()).toBe(4)
    expect(await page.locator('.tile.bad').count()).toBe(0)
    await shot(page, 'system')
  })

  it('Tab from the top of the page focuses the skip link first, and it jumps to the content', async () => {
    await page.goto(`${server.url}/settings`)
    await page.keyboard.press('Tab')
    const focused = await page.evaluate(() => ({
      text: document.activeElement?.textContent,
      href: document.activeElement?.getAttribute('href'),
      cls: document.activeElement?.className,
    }))
    expect(focused).toEqual({ text: 'Skip to content', href: '#main', cls: 'skip' })
    // Visible while focused.
    const box = await page.locator('a.skip').boundingBox()
    expect(box && box.x >= 0 && box.y >= 0 && box.width > 0).toBe(true)
    await shot(page, 'skip-link')
    await page.keyboard.press('Enter')
    expect(new URL(page.url()).hash).toBe('#main')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main')
    // The next Tab goes to the first link in the content, past the navigation's links.
    await page.keyboard.press('Tab')
    expect(
      await page.evaluate(() => document.activeElement?.closest('main') && document.activeElement.getAttribute('href')),
    ).toBe('/settings/users')
    // Focus is visible: the focused tile has a focus ring.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).boxShadow)).not.toBe('none')
  })

  const sections = [
    { link: 'Overview', href: '/', title: 'Overview', shot: 'overview' },
    { link: 'Components', href: '/components', title: 'Components', shot: 'components' },
    { link: 'Metrics', href: '/explore', title: 'Metrics', shot: 'metrics' },
    { link: 'Alerts', href: '/alerts', title: 'Alerts', shot: 'alerts' },
    { link: 'Healing', href: '/healing', title: 'Healing', shot: 'healing' },
    { link: 'Backups', href: '/backups', title: 'Backups', shot: 'backups' },
    { link: 'Models', href: '/models', title: 'Models', shot: 'models' },
    { link: 'Runs', href: '/runs', title: 'Runs', shot: 'runs' },
    { link: 'Settings', href: '/settings', title: 'Settings', shot: 'settings' },
    { link: 'API docs', href: '/docs', title: 'API', shot: 'docs' },
  ]

  it.each(sections)('the navigation reaches $link ($href)', async (s) => {
    const nav = page.getByRole('navigation', { name: 'Main' })
    await Promise.all([
      page.waitForURL(`${server.url}${s.href}`),
      nav.getByRole('link', { name: s.link, exact: true }).click(),
    ])
    expect(await h1(page)).toBe(s.title)
    expect(await page.title()).toContain('Homeostat')
    expect(await nav.locator('a[aria-current="page"]').innerText()).toBe(s.link)
    // Every section has something to say, if only what will appear there.
    expect((await page.locator('main').innerText()).replace(s.title, '').trim().length).toBeGreaterThan(40)
    await shot(page, s.shot)
    expect(await layoutWidth(page)).toBeLessThanOrEqual(LAPTOP.width)
  })

  it('the API docs list the routes, including whoami', async () => {
    await page.goto(`${server.url}/docs`)
    expect(await page.locator('details.op').count()).toBeGreaterThan(5)
    await page.locator('details.op', { hasText: '/api/v1/whoami' }).locator('summary').click()
    expect(await page.locator('details.op[open]', { hasText: '/api/v1/whoami' }).count()).toBe(1)
  })

  let key = ''
  let prefix = ''

  it('creates an API key through the htmx form: shown once, listed once', async () => {
    await page.goto(`${server.url}/settings`)
    await Promise.all([
      page.waitForURL(`${server.url}/settings/keys`),
      page.getByRole('link', { name: /API keys/ }).click(),
    ])
    expect(await h1(page)).toBe('API keys')
    await shot(page, 'keys-empty')

    const form = page.locator('form[hx-post="/settings/keys"]')
    await form.getByLabel('Name').fill('browser-e2e')
    await form.getByLabel('Role').selectOption('viewer')
    const before = page.url()
    await form.getByRole('button', { name: 'Create key' }).click()
    await page.locator('#new-key').waitFor()
    expect(page.url()).toBe(before) // swapped in place by htmx, not a page load
    key = (await page.locator('#new-key').innerText()).trim()
    expect(key).toMatch(/^hs_[a-z0-9]{8}_[A-Za-z0-9_-]+$/)
    prefix = key.slice(0, 11)
    expect(await page.locator(`#keys tr[data-prefix="${prefix}"]`).count()).toBe(1)
    expect(await page.locator('#keys tbody tr').count()).toBe(1)
    const row = await page.locator(`#keys tr[data-prefix="${prefix}"]`).innerText()
    expect(row).toContain('browser-e2e')
    expect(row).toContain('viewer')
    expect(await form.getByLabel('Name').inputValue()).toBe('') // the form was reset for the next key
    await shot(page, 'keys-created')

    const res = await whoami(key)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ kind: 'api_key', name: prefix, role: 'viewer' })
  })

  it('after a reload the key itself is gone from the page but its row stays', async () => {
    await page.reload()
    expect(await page.locator('#new-key').count()).toBe(0)
    expect(await page.content()).not.toContain(key)
    expect(await page.content()).not.toContain(key.slice(12))
    expect(await page.locator(`#keys tr[data-prefix="${prefix}"]`).count()).toBe(1)
    await shot(page, 'keys')
  })

  it('revokes the key after the confirmation dialog; the key then gets 401', async () => {
    const dialogs: string[] = []
    page.once('dialog', (d) => {
      dialogs.push(d.message())
      void d.accept()
    })
    await page.locator(`#keys tr[data-prefix="${prefix}"]`).getByRole('button', { name: 'Revoke' }).click()
    await page.locator(`tr[data-prefix="${prefix}"]`).waitFor({ state: 'detached' })
    expect(dialogs).toHaveLength(1)
    expect(dialogs[0]).toContain(`Revoke ${prefix}`)
    expect(await page.locator('main .empty').innerText()).toContain('No API keys yet')

    const res = await whoami(key)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'key_revoked' } })
  })

  it('dismissing the confirmation leaves the key alone', async () => {
    const form = page.locator('form[hx-post="/settings/keys"]')
    await form.getByLabel('Name').fill('kept')
    await form.getByRole('button', { name: 'Create key' }).click()
    await page.locator('#new-key').waitFor()
    const kept = (await page.locator('#new-key').innerText()).trim()
    page.once('dialog', (d) => void d.dismiss())
    await page
      .locator(`#keys tr[data-prefix="${kept.slice(0, 11)}"]`)
      .getByRole('button', { name: 'Revoke' })
      .click()
    expect((await whoami(kept)).status).toBe(200)
    expect(await page.locator(`#keys tr[data-prefix="${kept.slice(0, 11)}"]`).count()).toBe(1)
  })

  it('adds a user through the form on the Users page', async () => {
    await page.goto(`${server.url}/settings/users`)
    expect(await h1(page)).toBe('Users')
    const form = page.locator('form[hx-post="/settings/users"]')
    await form.getByLabel('Email').fill('viewer@example.com')
    await form.getByLabel('Name').fill('Vera Viewer')
    await form.getByLabel('Role').selectOption('viewer')
    await form.getByLabel('Password').fill('viewer password long')
    await form.getByRole('button', { name: 'Add user' }).click()
    const row = page.locator('#users tr', { hasText: 'viewer@example.com' })
    await row.waitFor()
    expect(await row.innerText()).toContain('Vera Viewer')
    expect(await row.getByRole('combobox').inputValue()).toBe('viewer')
    expect(await page.locator('#users tbody tr').count()).toBe(2)
    expect(await form.getByLabel('Email').inputValue()).toBe('')
    await shot(page, 'users')
  })

  it('a bad form shows the reasons in the flash area', async () => {
    const form = page.locator('form[hx-post="/settings/users"]')
    await form.getByLabel('Email').fill('viewer@example.com') // already taken
    await form.getByLabel('Password').fill('viewer password long')
    // The browser and htmx report the 409 on the console; that is the point here.
    expected.push(/^HTTP 409 POST .*\/settings\/users$/, /^console: .*409/)
    await form.getByRole('button', { name: 'Add user' }).click()
    await page.locator('#flash .error').waitFor()
    expect(await page.locator('#flash').innerText()).toMatch(/already/i)
    expect(await page.locator('#users tbody tr').count()).toBe(2)
    expect(await form.getByLabel('Email').inputValue()).toBe('viewer@example.com') // kept for correcting
    await shot(page, 'users-error')
  })

  it('the audit log shows the key being created and revoked', async () => {
    await page.goto(`${server.url}/settings/audit`)
    expect(await h1(page)).toBe('Audit log')
    const rows = page.locator('#audit-rows tr')
    const created = rows.filter({ hasText: 'key.created' }).filter({ hasText: prefix })
    const revoked = rows.filter({ hasText: 'key.revoked' }).filter({ hasText: prefix })
    expect(await created.count()).toBe(1)
    expect(await revoked.count()).toBe(1)
    expect(await created.innerText()).toContain(`user:${ADMIN.email}`)
    expect(await rows.filter({ hasText: 'user.created' }).filter({ hasText: 'viewer@example.com' }).count()).toBe(1)
    expect(await rows.filter({ hasText: 'auth.login' }).count()).toBeGreaterThan(0)
    await shot(page, 'audit')

    // The htmx filter replaces the rows in place.
    await page.getByLabel('Action').fill('key.revoked')
    await page.getByRole('button', { name: 'Filter' }).click()
    await until('filtered rows', async () => ((await rows.count()) === 1 ? true : undefined), 10_000)
    expect(await rows.first().innerText()).toContain(prefix)
  })

  it('my account page (password and two-factor) renders', async () => {
    await page.goto(`${server.url}/settings/security`)
    expect(await h1(page)).toBe('My account')
    await shot(page, 'security')
  })

  it('no console errors, script errors, failed loads or unexpected 4xx/5xx on any page so far', () => {
    expect(problems).toEqual([])
  })
})

describe('the dashboard on a phone', () => {
  let phone: BrowserContext
  let p: Page

  beforeAll(async () => {
    phone = await browser.newContext({
      viewport: PHONE,
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      colorScheme: 'light',
      storageState: await laptop.storageState(),
    })
    phone.setDefaultTimeout(15_000)
    p = await phone.newPage()
    watch(p)
  })
  afterAll(async () => {
    await phone?.close()
  })

  it('fits the overview in the width, with the menu behind a button', async () => {
    await p.goto(`${server.url}/`)
    expect(await h1(p)).toBe('Overview')
    await shot(p, 'overview-phone')
    expect(await p.locator('nav.side').isVisible()).toBe(false)
    expect(await layoutWidth(p)).toBeLessThanOrEqual(PHONE.width)

    await p.locator('details.menu summary').click()
    expect(await p.locator('details.menu summary').getAttribute('aria-label')).toBe('Menu')
    const menu = p.locator('details.menu')
    await menu.getByRole('link', { name: 'Alerts' }).waitFor()
    await shot(p, 'menu-phone')
    await Promise.all([p.waitForURL(`${server.url}/alerts`), menu.getByRole('link', { name: 'Alerts' }).click()])
    expect(await h1(p)).toBe('Alerts')
  })

  it('shows the API keys page without sideways scrolling of the page', async () => {
    await p.goto(`${server.url}/settings/keys`)
    expect(await h1(p)).toBe('API keys')
    await shot(p, 'keys-phone')
    expect(await layoutWidth(p)).toBeLessThanOrEqual(PHONE.width)
    // The table scrolls inside its own box to reach the Revoke button.
    expect(await p.locator('#keys tbody tr').count()).toBe(1)
    await p.locator('#keys').getByRole('button', { name: 'Revoke' }).scrollIntoViewIfNeeded()
    expect(await p.locator('#keys').getByRole('button', { name: 'Revoke' }).isVisible()).toBe(true)
  })

  it('keeps the widest table, the audit log, inside the screen', async () => {
    await p.goto(`${server.url}/settings/audit`)
    await shot(p, 'audit-phone')
    expect(await layoutWidth(p)).toBeLessThanOrEqual(PHONE.width)
  })

  it('no errors on the phone either', () => {
    expect(problems).toEqual([])
  })
})

describe('dark mode follows the system', () => {
  it('uses the dark palette when the system prefers dark', async () => {
    const dark = await browser.newContext({
      viewport: LAPTOP,
      colorScheme: 'dark',
      storageState: await laptop.storageState(),
    })
    try {
      const p = await dark.newPage()
      watch(p)
      await p.goto(`${server.url}/`)
      const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor)
      const [r, g, b] = bg.match(/\d+/g)!.map(Number)
      expect(r! + g! + b!, bg).toBeLessThan(3 * 64)
      await shot(p, 'overview-dark')
      await p.goto(`${server.url}/settings/keys`)
      await shot(p, 'keys-dark')
      await p.goto(`${server.url}/login`) // signed in: goes to the overview
      expect(path(p)).toBe('/')
      const anon = await browser.newContext({ viewport: LAPTOP, colorScheme: 'dark' })
      const a = await anon.newPage()
      await a.goto(`${server.url}/login`)
      await shot(a, 'login-dark')
      await anon.close()
      expect(problems).toEqual([])
    } finally {
      await dark.close()
    }
  })
})

describe('signing out', () => {
  it('ends the session: back at /login, and / sends there again', async () => {
    await page.goto(`${server.url}/`)
    await Promise.all([page.waitForURL(/\/login$/), page.getByRole('button', { name: 'Sign out' }).click()])
    expect(path(page)).toBe('/login')
    await page.goto(`${server.url}/`)
    expect(path(page)).toBe('/login?next=%2F')
    await page.goto(`${server.url}/settings/keys`)
    expect(path(page)).toBe('/login?next=%2Fsettings%2Fkeys')
    expect(problems).toEqual([])

    // And signing back in goes where the visitor was headed.
    await page.getByLabel('Email').fill(ADMIN.email)
    await page.getByLabel('Password').fill(ADMIN.password)
    await Promise.all([
      page.waitForURL(`${server.url}/settings/keys`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ])
    expect(await h1(page)).toBe('API keys')
  })
})
