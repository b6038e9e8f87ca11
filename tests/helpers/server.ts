/**
 * Real processes for the end-to-end suites: the server under Bun or Deno (exactly as `npm start` and
 * `npm run start:deno` run it) and the CLI under Bun (as `npm run cli` runs it). Every wait is a poll
 * with a deadline; every child started here is remembered so `killAll()` in `afterAll` ends it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigSchema } from '../../app/config.ts'

export type Runtime = 'bun' | 'deno'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BUN = join(ROOT, 'node_modules/.bin/bun')
export const DENO = join(ROOT, 'node_modules/.bin/deno')

const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()
// Last resort if a test run dies before its afterAll: no server outlives the test process.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/** A port nobody is listening on: bind port 0, read the port the OS chose, release it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, host, () => {
      const address = probe.address()
      probe.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** A fresh data folder and the settings that point the server or the CLI at a file database in it. */
export function tempData(prefix = 'homeostat-e2e-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return { dir, env: { DATA_DIR: dir, DATABASE_URL: `file:${join(dir, 'homeostat.db')}` } }
}

/** The parent's environment without anything Homeostat reads, so only what a test sets applies. */
function baseEnv(): Record<string, string> {
  const drop = new Set([...Object.keys(ConfigSchema.entries), 'NODE_OPTIONS'])
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !drop.has(k)) env[k] = v
  // Cheap password hashes keep sign-ins fast (a test may set its own); production's cost is tested on its own.
  return { ...env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', PASSWORD_HASH_COST: '10' }
}

/**
 * What `npm run <name>` runs, read from package.json: the settings it starts with (`NAME=value`
 * before the command, e.g. the runtime's heap settings of `npm start`) and its runtime (bun or
 * deno) resolved to node_modules/.bin as npm would.
 */
export function npmScript(name: string): { command: string; args: string[]; env: Record<string, string> } {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts
  const script = scripts[name]
  if (!script) throw new Error(`package.json has no "${name}" script`)
  const words = script.trim().split(/\s+/)
  const env: Record<string, string> = {}
  while (/^[A-Z_][A-Z0-9_]*=/i.test(words[0] ?? '')) {
    const [k, ...v] = words.shift()!.split('=')
    env[k!] = v.join('=')
  }
  const [bin, ...args] = words
  if (bin !== 'bun' && bin !== 'deno') throw new Error(`expected "${name}" to run bun or deno: ${script}`)
  return { command: bin === 'bun' ? BUN : DENO, args, env }
}

/** The command `npm start` (Bun) or `npm run start:deno` (Deno) runs. */
export const serverCommand = (runtime: Runtime) => npmScript(runtime === 'bun' ? 'start' : 'start:deno')

export type Exit = { code: number | null; signal: NodeJS.Signals | null }

export type StartOptions = {
  runtime?: Runtime
  /** Extra settings; DATA_DIR/DATABASE_URL default to a new temp folder, PORT to a free port. */
  env?: Record<string, string>
  /** Wait for `/ready` to answer 200 (default). Off for starts that are meant to fail. */
  waitForReady?: boolean
  readyTimeoutMs?: number
}

export type RunningServer = Awaited<ReturnType<typeof startServer>>

/** Starts the real server as a child process and (by default) waits until `/ready` answers 200. */
export async function startServer(options: StartOptions = {}) {
  const runtime = options.runtime ?? 'bun'
  const data = tempData()
  const port = options.env?.PORT ?? String(await freePort())
  // Loopback allowed for outbound calls: e2e tests point channels, checks and healing at local servers.
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    OUTBOUND_ALLOW: '127.0.0.0/8,::1,localhost',
    ...data.env,
    PORT: port,
    ...options.env,
  }
  const script = serverCommand(runtime)
  const child = spawn(script.command, script.args, {
    cwd: ROOT,
    env: { ...baseEnv(), ...script.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)

  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    })
    child.on('error', (error) => {
      stderr += `\n[spawn error] ${error.message}`
      children.delete(child)
      resolve({ code: null, signal: null })
    })
  })
  let exit: Exit | null = null
  void exited.then((e) => (exit = e))

  const url = `http://${env.HOST}:${env.PORT}`
  const server = {
    runtime,
    url,
    port: Number(env.PORT),
    dir: env.DATA_DIR!,
    /** The settings the server was started with (for the CLI against the same database). */
    env,
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => `--- stdout\n${stdout}\n--- stderr\n${stderr}`,
    fetch: (path: string, init?: RequestInit) =>
      fetch(url + path, { ...init, signal: init?.signal ?? AbortSignal.timeout(10_000) }),

    /** Waits until stdout+stderr match `pattern` (or the process exits, or the deadline passes). */
    async waitForOutput(pattern: RegExp, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const m = (stdout + stderr).match(pattern)
        if (m) return m
        if (exit || Date.now() > deadline)
          throw new Error(
            `${pattern} did not appear${exit ? ' before the process exited' : ` within ${timeoutMs} ms`}\n${server.output()}`,
          )
        await delay(25)
      }
    },

    /** Resolves when the process exits by itself; throws after `timeoutMs`. */
    async waitForExit(timeoutMs = 15_000): Promise<Exit> {
      const result = await Promise.race([exited, delay(timeoutMs).then(() => null)])
      if (!result) throw new Error(`${runtime} server still running after ${timeoutMs} ms\n${server.output()}`)
      return result
    },

    /** Sends `signal` and resolves with the exit code; SIGKILLs and throws if it does not exit in time. */
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
      if (!exit) child.kill(signal)
      const result = await Promise.race([exited, delay(timeoutMs).then(() => null)])
      if (!result) {
        child.kill('SIGKILL')
        await exited
        throw new Error(`${runtime} server did not exit within ${timeoutMs} ms of ${signal}\n${server.output()}`)
      }
      return result.code
    },
  }

  if (options.waitForReady ?? true) {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000)
    let last = 'no answer yet'
    for (;;) {
      if (exit)
        throw new Error(`${runtime} server exited (${JSON.stringify(exit)}) before it was ready\n${server.output()}`)
      try {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) })
        last = `${res.status} ${await res.text()}`
        if (res.status === 200) break
      } catch (error) {
        last = String((error as Error).cause ?? error)
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(
          `${runtime} server was not ready within ${options.readyTimeoutMs ?? 60_000} ms (last: ${last})\n${server.output()}`,
        )
      }
      await delay(100)
    }
  }
  return server
}

export type CliResult = { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion (bounded by `timeoutMs`, then SIGKILL and a rejection). */
export function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      children.delete(child)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, stdout, stderr })
    })
  })
}

/** `npm run <name> -- …args`, e.g. `runScript('db:migrate', [], env)`. */
export function runScript(name: string, args: string[], env: Record<string, string>, timeoutMs?: number) {
  const script = npmScript(name)
  return run(script.command, [...script.args, ...args], { ...script.env, ...env }, timeoutMs)
}

/** `npm run cli -- …args` (that is, `bun app/cli.ts …args`) with the given settings (DATABASE_URL, DATA_DIR, …). */
export const runCli = (args: string[], env: Record<string, string>, timeoutMs?: number) =>
  runScript('cli', args, env, timeoutMs)

/** A new API key made with the CLI against a started server's database; only the key is returned. */
export async function cliKey(
  server: { env: Record<string, string> },
  name: string,
  role: string,
  scopes: string[] = [],
) {
  const env = { DATABASE_URL: server.env.DATABASE_URL!, DATA_DIR: server.env.DATA_DIR! }
  const result = await runCli(
    ['keys', 'create', '--name', name, '--role', role, ...scopes.flatMap((s) => ['--scope', s])],
    env,
  )
  if (result.code !== 0) throw new Error(`keys create failed: ${result.stderr}`)
  return result.stdout.trim()
}

/** For afterAll: ends every child still running (SIGKILL) and removes the temp folders. */
export async function killAll() {
  const waits = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  )
  await Promise.race([Promise.all(waits), delay(10_000)])
  children.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`)
    await delay(everyMs)
  }
}
