/**
 * `n8n start` (the n8n server) for an n8n the CLI harness set up (n8n-cli.ts): on a free loopback port,
 * its owner set up through the REST API as the editor's setup page does, so the test can call the
 * editor's REST routes: run a workflow as the editor's "Execute workflow" button does (n8n 2.x, where
 * each `n8n execute` boots a whole n8n: one server shared by all cases is the suite's budget), publish
 * a workflow, test a credential.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { N8N_E2E, type N8nCli, type RunJson } from './n8n-cli.ts'
import { delay, freePort, until } from './server.ts'

export type StartedN8n = {
  url: string
  /** The owner's session: cookie and browser id, for the editor's REST routes. */
  headers: Record<string, string>
  /** Everything n8n printed (for failure messages). */
  output(): string
  /** Calls a REST route as the owner and returns its `data`; any answer but 200 fails the test, naming n8n's reply. */
  rest<T>(method: string, path: string, body?: unknown): Promise<T>
  /** Runs an imported workflow from its manual trigger, as the editor does (n8n 2.x's API), and returns its saved run. */
  run(workflowId: string, timeoutMs?: number): Promise<RunJson>
  /** Publishes (activates) a workflow in the running n8n 2.x: its triggers start at once. */
  publish(workflowId: string): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts `n8n start` with the harness's environment (plus `env`, e.g. another user folder), waits
 * until its REST routes answer (`/healthz` answers before they are mounted), then sets up the owner.
 */
export async function startN8n(
  cli: N8nCli,
  opts: { env?: Record<string, string>; omit?: string[]; cwd?: string } = {},
): Promise<StartedN8n> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const [node, bin] = cli.bin
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...cli.env,
    ...(await cli.processEnv()),
    ...opts.env,
    N8N_PORT: String(port),
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    WEBHOOK_URL: `${url}/`,
  }
  for (const name of opts.omit ?? []) delete env[name]
  let output = ''
  const child: ChildProcess = spawn(node, [bin, 'start'], {
    cwd: opts.cwd ?? cli.work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  const exited = () => child.exitCode !== null || child.signalCode !== null
  const stop = async () => {
    if (exited()) return
    const done = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([done, delay(15_000)])
    if (!exited()) {
      child.kill('SIGKILL')
      await done
    }
  }
  try {
    await until(
      'n8n start answers',
      async () => {
        if (exited()) throw new Error(`n8n start exited\n${output.slice(-4000)}`)
        // n8n prints this last, once every route is mounted and active workflows started (2.x mounts
        // its REST controllers one by one after /rest/settings answers: until then they are 404s).
        if (!output.includes('Editor is now accessible')) return undefined
        return (await fetch(`${url}/rest/settings`).catch(() => undefined))?.ok ? true : undefined
      },
      180_000,
      500,
    )
    // The owner, as the editor's setup page makes it; it takes over the imported credentials and workflows.
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'browser-id': 'homeostat-e2e' }
    const setup = await until(
      'n8n set up its owner',
      async () => {
        if (exited()) throw new Error(`n8n start exited\n${output.slice(-4000)}`)
        const res = await fetch(`${url}/rest/owner/setup`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            email: 'owner@example.com',
            firstName: 'E2e',
            lastName: 'Owner',
            password: 'Homeostat-e2e-1',
          }),
        })
        if (res.status === 404) return undefined
        expect(res.status, await res.clone().text()).toBe(200)
        return res
      },
      120_000,
      500,
    )
    headers.Cookie = setup.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')

    const rest = async <T>(method: string, path: string, body?: unknown) => {
      const call = () =>
        fetch(`${url}/rest${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
      // 503 "Database is not ready!": n8n 2.x's database ping was slow (n8n-cli.ts); it answers again once one is not.
      const res = await until(
        'n8n answers other than 503',
        async () => {
          const r = await call()
          return r.status === 503 ? undefined : r
        },
        60_000,
        500,
      )
      const text = await res.text()
      expect(res.status, `${method} /rest${path}: ${text.slice(0, 2000)}`).toBe(200)
      return (JSON.parse(text) as { data: T }).data
    }

    const run = async (workflowId: string, timeoutMs = 120_000) => {
      // The editor names the trigger to start from (n8n 2.x's ManualRunDto).
      const trigger = TRIGGERS.get(workflowId)
      if (!trigger) throw new Error(`no example workflow ${workflowId} with a manual trigger`)
      const { executionId } = await rest<{ executionId: string }>('POST', `/workflows/${workflowId}/run`, {
        triggerToStartFrom: { name: trigger },
      })
      return until(
        `n8n finished execution ${executionId} of ${workflowId}`,
        async () => {
          if (exited()) throw new Error(`n8n start exited\n${output.slice(-4000)}`)
          const saved = await cli.savedExecution(Number(executionId))
          return saved && saved.status !== 'running' && saved.status !== 'new' ? saved : undefined
        },
        timeoutMs,
        250,
      )
    }

    const publish = async (workflowId: string) => {
      const { versionId } = await rest<{ versionId: string }>('GET', `/workflows/${workflowId}`)
      await rest('POST', `/workflows/${workflowId}/activate`, { versionId })
    }

    return { url, headers, output: () => output, rest, run, publish, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** The manual trigger's name in each example workflow, by workflow id: the node a manual run starts from. */
const TRIGGERS = new Map(
  readdirSync(join(N8N_E2E, 'workflows')).map((f) => {
    const w = JSON.parse(readFileSync(join(N8N_E2E, 'workflows', f), 'utf8')) as {
      id: string
      nodes: { name: string; type: string }[]
    }
    return [w.id, w.nodes.find((n) => n.type === 'n8n-nodes-base.manualTrigger')?.name] as const
  }),
)
