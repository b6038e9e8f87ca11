/**
 * Helpers for `npm run bench`: start servers as child processes on free ports, wait for them,
 * drive load with autocannon, read a process's resident memory. Benchmarks only print figures;
 * nothing here asserts on time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { Hono } from 'hono'
import { getRouterName } from 'hono/dev'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { npmScript } from '../helpers/server.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BUN = `${ROOT}node_modules/.bin/bun`

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** How `npm start` starts the server (its runtime settings and arguments): every benchmark starts it so. */
export const START = npmScript('start')

/**
 * Homeostat as `npm start` runs it, with `env` on top of the script's settings and `flags` (a profiler's) before its
 * arguments; from another checkout when `cwd` is given (BENCH_BESIDE: main beside a branch in the same run).
 */
export const startHomeostat = async (name: string, env: Record<string, string>, flags: string[] = [], cwd?: string) =>
  startServer({
    name,
    cwd,
    command: BUN,
    args: [...flags, ...START.args],
    port: await freePort(),
    // Loopback allowed for outbound calls: the benchmarks' receivers and targets listen on it.
    env: { ...START.env, OUTBOUND_ALLOW: '127.0.0.0/8,::1,localhost', ...env },
    readyPath: '/ready',
  })

/** BENCH_PROFILE_DIR=<dir>: the flags that make Homeostat write a Markdown CPU profile there when it stops; BENCH_BUN_FLAGS: more. */
export const profileFlags = () => [
  ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof-md', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
  // BENCH_BUN_FLAGS="--preload <file>": extra runtime flags, e.g. a memory probe while finding what holds RSS.
  ...(process.env.BENCH_BUN_FLAGS?.split(' ').filter(Boolean) ?? []),
]

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))))
    })
  })
}

export type Started = {
  name: string
  url: string
  pid: number
  child: ChildProcess
  /** Everything the process printed so far (for error messages). */
  output: () => string
  stop: () => Promise<void>
}

const running = new Set<Started>()

/**
 * Starts `command args` with `env` added to ours, on `port`, and waits until `readyPath` answers 200.
 * Throws with the process's output when it exits or does not become ready in time.
 */
export async function startServer(opts: {
  name: string
  command: string
  args: string[]
  port: number
  env?: Record<string, string>
  readyPath?: string
  timeoutMs?: number
  /** Where to run it: this checkout unless given. */
  cwd?: string
}): Promise<Started> {
  const url = `http://127.0.0.1:${opts.port}`
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env, PORT: String(opts.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const started: Started = {
    name: opts.name,
    url,
    pid: child.pid ?? -1,
    child,
    output: () => out,
    stop: async () => {
      running.delete(started)
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])
      if (!done) {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
  running.add(started)
  const failure = exited.then((code) => {
    throw new Error(`${opts.name} exited with code ${code} before it was ready:\n${out}`)
  })
  failure.catch(() => {}) // only raced below; an exit after start-up is not an error here
  try {
    await Promise.race([waitReady(url + (opts.readyPath ?? '/'), opts.timeoutMs ?? 30_000), failure])
  } catch (error) {
    await started.stop()
    throw error
  }
  return started
}

/** Stops every server `startServer` started that is still running. */
export async function stopAll() {
  await Promise.all([...running].map((s) => s.stop()))
}

/** Polls `url` until it answers 200. */
export async function waitReady(url: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.ok) return
      last = `status ${res.status}`
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    await sleep(100)
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`)
}

/** Runs a command to completion; returns its trimmed stdout, throws with stderr on failure. */
export function runCommand(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): string {
  const r = spawnSync(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  })
  if (r.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error?.message}):\n${r.stderr}${r.stdout}`,
    )
  return r.stdout.trim()
}

export type LoadRequest = {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  headers?: Record<string, string>
  body?: string | Buffer
  /** A fresh body for every request (autocannon's setupRequest); `body` is then only the probe's. */
  next?: () => string | Buffer
}

export type LoadResult = {
  rps: number
  p50: number
  p99: number
  requests: number
  errors: number
  non2xx: number
}

/**
 * Drives `url` with autocannon: a short warm-up (discarded), then the measured run.
 * `rps` is the mean of the per-second request counts; latencies are in ms.
 */
export async function load(
  url: string,
  req: LoadRequest = {},
  opts: { connections?: number; seconds?: number; warmupSeconds?: number } = {},
): Promise<LoadResult> {
  const next = req.next
  const rotate = next ? { requests: [{ setupRequest: (r: autocannon.Request) => ({ ...r, body: next() }) }] } : {}
  const base = {
    url,
    connections: opts.connections ?? 50,
    method: req.method ?? 'GET',
    headers: req.headers,
    body: req.body,
    ...rotate,
  }
  if ((opts.warmupSeconds ?? 2) > 0) await autocannon({ ...base, duration: opts.warmupSeconds ?? 2 })
  const r = await autocannon({ ...base, duration: opts.seconds ?? 8 })
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors,
    non2xx: r.non2xx,
  }
}

/**
 * Latency of one request at a time (no queueing behind other clients): calls `once` until `count`
 * calls or `maxMs` have passed, after one unmeasured call. Returns ms percentiles.
 */
export async function sequentialLatency(once: () => Promise<void>, opts: { count: number; maxMs: number }) {
  await once()
  const times: number[] = []
  const deadline = performance.now() + opts.maxMs
  while (times.length < opts.count && (performance.now() < deadline || times.length < 5)) {
    const t = performance.now()
    await once()
    times.push(performance.now() - t)
  }
  const sorted = times.sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1)! }
}

/** Direct children of a process (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    )
  } catch {
    return []
  }
}

const exeOf = (pid: number) => {
  try {
    return readlinkSync(`/proc/${pid}/exe`)
  } catch {
    return ''
  }
}

/**
 * The process that really runs the server: `pid` itself when its executable matches `exe`
 * (e.g. /bun/), else the first descendant that does — so a wrapper script's memory is never measured.
 */
export function findProcess(pid: number, exe: RegExp): number {
  const queue = [pid]
  while (queue.length) {
    const p = queue.shift()!
    if (exe.test(exeOf(p))) return p
    queue.push(...childrenOf(p))
  }
  throw new Error(`no process matching ${exe} under pid ${pid}`)
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) / 1024
}

let clockTicks: number | undefined
/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
    clockTicks = Number(r.stdout?.trim()) || 100
  }
  // Fields after "(comm) ": state is index 0, utime 11, stime 12.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

/**
 * CPU seconds of each thread of a process (Linux /proc), by thread name, the main thread as `main`:
 * where a server's CPU goes (its transaction thread, the JIT's compiler threads, the collector).
 * Threads of one name are summed; an empty map off Linux.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  cpuSeconds(pid) // reads the clock tick once
  const out = new Map<string, number>()
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const fields = stat.slice(close + 2).split(' ')
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, close)
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / clockTicks!)
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/**
 * Which router the app settled on (app/lib/router.ts: RegExpRouter unless a route made it fall
 * back), and if it is not the fast RegExpRouter, the route RegExpRouter refused (a `:param` route
 * beside a literal segment at the same place, e.g. `/things/:id/do` and `/things/other/:id`).
 * TrieRouter makes every request a little slower.
 */
export function routerReport(app: Hono<any>): { name: string; refused?: string } {
  const name = getRouterName(app)
  if (name.includes('RegExpRouter')) return { name }
  const fallback = (app.router as { fallback?: string }).fallback
  if (fallback) return { name, refused: fallback }
  const probe = new RegExpRouter<unknown>()
  for (const route of app.routes) {
    try {
      probe.add(route.method, route.path, route.handler) // refuses an unsupported path here
    } catch {
      return { name, refused: `${route.method} ${route.path}` }
    }
  }
  return { name }
}

/** Prints rows as an aligned plain-text table. */
export function printTable(header: string[], rows: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
export const verdict = (ok: boolean) => (ok ? 'pass' : 'MISS')
/** The q-quantile of an ascending list (nearest rank). */
export const pct = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

export type Env = Record<string, string>
/** The environment of a bench server with its own data folder and database under `dir/name`. */
export const envFor = (dir: string, base: Env, name: string, extra: Env = {}): Env => ({
  ...base,
  DATA_DIR: join(dir, name),
  DATABASE_URL: `file:${join(dir, name, 'homeostat.db')}`,
  ...extra,
})

/** An API key made by the CLI on the database of `env`. */
export function benchKey(env: Env, role: 'operator' | 'viewer', scope?: string) {
  const args = ['app/cli.ts', 'keys', 'create', '--name', `bench-${scope ?? role}`, '--role', role]
  const key = runCommand(BUN, scope ? [...args, '--scope', scope] : args, env)
  if (!/^hs_\S+$/.test(key)) throw new Error(`the CLI printed something other than a key: ${key}`)
  return key
}

/** A JSON call with a Bearer key; throws when `expect` is given and the status differs. */
export async function apiCall(url: string, key: string, method = 'GET', body?: unknown, expect?: number) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  if (expect !== undefined && res.status !== expect)
    throw new Error(`${method} ${url}: expected ${expect}, got ${res.status}: ${text.slice(0, 300)}`)
  // biome-ignore lint/suspicious/noExplicitAny: bench callers read whatever the route answers
  return text ? (JSON.parse(text) as Record<string, any>) : null
}
