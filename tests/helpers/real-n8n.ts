/**
 * A real n8n 1.123 for the end-to-end suites that talk to n8n's public API (workflow history, workflow
 * health): installed from the cache install-n8n.sh fills (outside the repo), started on a free
 * loopback port, its owner set up and an API key made through n8n's REST API as the editor would.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { freePort, ROOT, run, until } from './server.ts'

export type RealN8n = {
  url: string
  apiKey: string
  /** n8n's public API with the key; any answer but 200 fails the test, naming n8n's reply. */
  api(method: string, path: string, body?: unknown): Promise<any>
  /** Stops the n8n process and keeps its user folder (database, owner, API key): an outage. */
  halt(): Promise<void>
  /** Starts n8n again on the same port and user folder after `halt()`; resolves once its REST routes answer. */
  resume(): Promise<void>
  /** Stops n8n and removes its folder. */
  stop(): Promise<void>
}

/** n8n answers "n8n is starting up" (HTTP 200, plain text) for a while: a JSON answer, or undefined to retry. */
async function jsonOf(res: Response) {
  const text = await res.text()
  if (!text.startsWith('{')) return undefined
  expect(res.status, text).toBe(200)
  return JSON.parse(text) as any
}

export async function startRealN8n(opts: { name: string; scopes: string[] }): Promise<RealN8n> {
  const install = await run('bash', [join(ROOT, 'tests/e2e/n8n/install-n8n.sh')], {}, 15 * 60_000)
  if (install.code !== 0) throw new Error(`install-n8n.sh failed\n${install.stderr.slice(-4000)}`)
  const cache = install.stdout.trim().split('\n').pop()!
  const work = mkdtempSync(join(tmpdir(), `homeostat-${opts.name}-e2e-`))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let output = ''
  const launch = () => {
    const child: ChildProcess = spawn(
      join(cache, 'node_modules/node/bin/node'),
      [join(cache, 'node_modules/n8n/bin/n8n'), 'start'],
      {
        cwd: work,
        env: {
          ...process.env,
          NODE_ENV: 'production',
          N8N_USER_FOLDER: join(work, 'user'),
          N8N_DIAGNOSTICS_ENABLED: 'false',
          N8N_RUNNERS_ENABLED: 'false',
          N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
          N8N_ENCRYPTION_KEY: `homeostat-${opts.name}-e2e-key`,
          N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
          N8N_PERSONALIZATION_ENABLED: 'false',
          N8N_HIRING_BANNER_ENABLED: 'false',
          N8N_PORT: String(port),
          N8N_LISTEN_ADDRESS: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
    return child
  }
  let n8n = launch()
  const alive = () => n8n.exitCode === null && n8n.signalCode === null
  const halt = async () => {
    if (alive()) {
      const exited = new Promise((resolve) => n8n.once('exit', resolve))
      n8n.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
      if (alive()) {
        n8n.kill('SIGKILL')
        await exited
      }
    }
  }
  const stop = async () => {
    await halt()
    rmSync(work, { recursive: true, force: true })
  }
  /** Resolves once n8n's REST routes answer (/healthz answers before they are mounted). */
  const answering = () =>
    until(
      'n8n answers',
      async () => {
        if (!alive()) throw new Error(`n8n start exited\n${output.slice(-4000)}`)
        return (await fetch(`${url}/rest/settings`).catch(() => undefined))?.ok ? true : undefined
      },
      120_000,
      500,
    )
  const resume = async () => {
    if (alive()) throw new Error('n8n is still running: halt() it first')
    output = ''
    n8n = launch()
    await answering()
  }
  try {
    await answering()
    // The owner, as the editor's setup page makes it (the answer signs the owner in), then an API key.
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'browser-id': 'homeostat-e2e' }
    const owner = { email: 'owner@example.com', firstName: 'Ada', lastName: 'Owner', password: 'Homeostat-e2e-1' }
    const setup = await until(
      'n8n set up its owner',
      async () => {
        const res = await fetch(`${url}/rest/owner/setup`, { method: 'POST', headers, body: JSON.stringify(owner) })
        return (await jsonOf(res.clone())) ? res : undefined
      },
      60_000,
      500,
    )
    headers.Cookie = setup.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const apiKey: string = await until(
      'n8n made an API key',
      async () => {
        const body = JSON.stringify({ label: 'homeostat', expiresAt: null, scopes: opts.scopes })
        return (await jsonOf(await fetch(`${url}/rest/api-keys`, { method: 'POST', headers, body })))?.data?.rawApiKey
      },
      60_000,
      500,
    )
    expect(apiKey).toMatch(/\S{20,}/)
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}/api/v1${path}`, {
        method,
        headers: { 'X-N8N-API-KEY': apiKey, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const json = (await res.json()) as any
      expect(res.status, JSON.stringify(json)).toBe(200)
      return json
    }
    return { url, apiKey, api, halt, resume, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
