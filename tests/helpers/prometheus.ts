/**
 * A real Prometheus (Debian's 2.42 at /usr/bin/prometheus, or PROMETHEUS_BIN) for the end-to-end
 * suites: started with a config the test writes (JSON is YAML, so no YAML library), its own temp
 * data folder and a free port on 127.0.0.1; `stop()` in afterAll ends it and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './server.ts'

export const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus'

/** Throws with the install hint when the binary is missing (.ci/run installs it). */
export function requirePrometheus() {
  if (!existsSync(PROMETHEUS))
    throw new Error(
      `${PROMETHEUS} not found: this test needs a real one. Install it with: apt-get update && apt-get install -y prometheus (or set PROMETHEUS_BIN)`,
    )
}

export type RunningPrometheus = {
  port: number
  url: string
  dir: string
  child: ChildProcess
  log: () => string
  stop: () => Promise<void>
}

/**
 * Starts Prometheus with `config` (an object written as prometheus.yml) and `files` written beside
 * it (rule files: refer to them by name in `rule_files`). `args` are extra command-line flags.
 */
export async function startPrometheus(
  config: Record<string, unknown>,
  opts: { files?: Record<string, unknown>; args?: string[] } = {},
): Promise<RunningPrometheus> {
  requirePrometheus()
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-prom-'))
  for (const [name, content] of Object.entries(opts.files ?? {}))
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content))
  const configFile = join(dir, 'prometheus.yml')
  const withPaths = Array.isArray(config.rule_files)
    ? { ...config, rule_files: (config.rule_files as string[]).map((f) => join(dir, f)) }
    : config
  writeFileSync(configFile, JSON.stringify(withPaths))
  const port = await freePort()
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=info',
    ...(opts.args ?? []),
  ]
  const child = spawn(PROMETHEUS, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d))
  child.on('error', (error) => (log += `\n[spawn error] ${error.message}`))
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  async function stop() {
    process.off('exit', killOnExit)
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  return { port, url: `http://127.0.0.1:${port}`, dir, child, log: () => log, stop }
}
