/**
 * The Models dashboard's deploy panel in a real browser against the real server (Bun): a model with
 * two versions and an Ollama host (the stand-in on 127.0.0.1, with Ollama-like pauses between its
 * progress lines) made through the API; on the model page the Modelfile preview shows its validation,
 * the deploy button starts the deploy, the progress lines arrive over server-sent events, and the
 * panel ends on success; the live table then names the version. Screenshot: tests/e2e/screenshots/registry-deploy.png.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, closeAll, launchChromium, screenshot, signIn } from '../helpers/browser.ts'
import { startFakeOllama, type FakeOllama } from '../helpers/fake-ollama.ts'
import { cliKey, startServer, type RunningServer } from '../helpers/server.ts'

let server: RunningServer
let browser: Browser
let page: Page
let ollama: FakeOllama

beforeAll(async () => {
  ollama = await startFakeOllama({ models: ['qwen2.5:7b'], latency: { createLine: 150 } })
  server = await startServer({
    runtime: 'bun',
    env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, OUTBOUND_ALLOW: '127.0.0.0/8,::1,localhost' },
  })
  const key = await cliKey(server, 'registry-e2e', 'operator')
  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      body: JSON.stringify(body),
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    })
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  }
  await api('POST', '/api/v1/ollama-hosts', { name: 'gpu-1', url: ollama.url })
  await api('POST', '/api/v1/models', { id: 'finance-qwen', name: 'Finance Qwen', baseModel: 'qwen2.5:7b' })
  const modelfile = (s: string) => `FROM qwen2.5:7b\nPARAMETER temperature 0.2\nSYSTEM """${s}"""\n`
  await api('POST', '/api/v1/models/finance-qwen/versions', { version: '1.0.0', modelfile: modelfile('one') })
  await api('POST', '/api/v1/models/finance-qwen/versions', { version: '1.1.0', modelfile: modelfile('two') })
  browser = await launchChromium()
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  context.setDefaultTimeout(15_000)
  page = await context.newPage()
  await signIn(page, server.url)
}, 120_000)

afterAll(async () => {
  await closeAll(browser)
  await ollama?.close()
})

describe('the deploy panel', () => {
  it('lists the model in the registry table', async () => {
    await page.goto(`${server.url}/models`)
    await expect.poll(() => page.locator('table.registry').innerText()).toContain('Finance Qwen')
  })

  it('previews the Modelfile with its validation, deploys, and shows live progress and success', async () => {
    await page.goto(`${server.url}/models/finance-qwen`)
    const panel = page.locator('.deploy-panel')
    expect(await panel.locator('.modelfile-check').getAttribute('data-valid')).toBe('true')
    await panel.locator('select[name="version"]').selectOption('1.0.0')
    await expect.poll(() => panel.locator('pre.modelfile').innerText()).toContain('one')
    await panel.locator('select[name="host"]').selectOption('gpu-1')
    await panel.getByRole('button', { name: 'Deploy' }).click()
    const run = page.locator('.deploy-run')
    // Lines arrive while the host is still creating (150 ms apart), before the outcome.
    await expect.poll(() => run.locator('.deploy-lines li').count()).toBeGreaterThan(1)
    await expect.poll(() => run.getAttribute('data-outcome'), { timeout: 20_000 }).toBe('succeeded')
    const lines = await run.locator('.deploy-lines li').allInnerTexts()
    expect(lines[0]).toBe('creating finance-qwen:1.0.0 on gpu-1')
    expect(lines).toContain('success')
    expect(lines.at(-1)).toBe('finance-qwen:live now points at finance-qwen:1.0.0')
    expect(await run.locator('.deploy-state').innerText()).toBe('Deployed 1.0.0 to gpu-1: live')
    await screenshot(page, 'registry-deploy')
    await page.reload()
    expect(await page.locator('table.live tr[data-host="gpu-1"]').innerText()).toContain('1.0.0')
    expect(ollama.has('finance-qwen:live')).toBe(true)
  })
})
