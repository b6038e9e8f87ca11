/**
 * The registry's figure (`BENCH_ONLY=registry`): "Rollback of a model version on a host (stand-in
 * with Ollama-like latencies): time", on a Homeostat of its own (Bun, empty DB) and the Ollama
 * stand-in (tests/helpers/fake-ollama.ts, in this process, on loopback) answering with pauses like a
 * real host's for a create from a base model it already has: 250 ms between create progress lines
 * (about 1.5 s a create), 30 ms for /api/show, 60 ms for /api/copy.
 *
 * - Deploy time (the baseline): DEPLOYS versions deployed one after the other, p50/p95.
 * - Rollback time: ROLLBACKS rollbacks on the host to the version live before (the host still has it,
 *   so `/api/show` + `/api/copy`), p50/p95; and a few where the host lost the version (create again).
 * Times are the API call's, from the request to the recorded outcome. Returns rows; asserts nothing.
 */
import { join } from 'node:path'
import { startFakeOllama } from '../helpers/fake-ollama.ts'
import { BUN, runCommand, startHomeostat } from './lib.ts'

const DEPLOYS = Number(process.env.REGISTRY_DEPLOYS ?? 6)
const ROLLBACKS = Number(process.env.REGISTRY_ROLLBACKS ?? 20)
const RECREATES = 3
type Env = Record<string, string>

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

export async function registryFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  const ollama = await startFakeOllama({
    models: ['qwen2.5:7b'],
    latency: { createLine: 250, show: 30, copy: 60, tags: 20 },
  })
  const env = { ...base, DATA_DIR: join(dir, 'registry'), DATABASE_URL: `file:${join(dir, 'registry', 'h.db')}` }
  const server = await startHomeostat('homeostat-registry', env)
  try {
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'operator'], env)
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }
    const call = async (method: string, path: string, body: unknown) => {
      const t0 = performance.now()
      const res = await fetch(`${server.url}${path}`, { method, headers, body: JSON.stringify(body) })
      const ms = performance.now() - t0
      const json = (await res.json()) as { status?: string; method?: string; error?: unknown }
      if (res.status >= 300 || (json.status && json.status === 'failed'))
        throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
      return { ms, json }
    }
    await call('POST', '/api/v1/ollama-hosts', { name: 'gpu-1', url: ollama.url })
    await call('POST', '/api/v1/models', { id: 'bench-qwen', baseModel: 'qwen2.5:7b' })
    const deployMs: number[] = []
    for (let i = 0; i < DEPLOYS; i++) {
      const version = `1.${i}.0`
      const modelfile = `FROM qwen2.5:7b\nPARAMETER temperature 0.${i}\nPARAMETER num_ctx 8192\nSYSTEM """Version ${i}: answer about invoices."""\n`
      await call('POST', '/api/v1/models/bench-qwen/versions', { version, modelfile })
      deployMs.push((await call('POST', `/api/v1/models/bench-qwen/versions/${version}/deploy`, { host: 'gpu-1' })).ms)
    }
    const rollbackMs: number[] = []
    for (let i = 0; i < ROLLBACKS; i++) {
      const r = await call('POST', '/api/v1/models/bench-qwen/rollback', { host: 'gpu-1' })
      if (r.json.method !== 'copy') throw new Error(`rollback ${i} was ${r.json.method}, not copy`)
      rollbackMs.push(r.ms)
    }
    const recreateMs: number[] = []
    for (let i = 0; i < RECREATES; i++) {
      const live = (await (await fetch(`${server.url}/api/v1/models/bench-qwen/deployments`, { headers })).json()) as {
        live: { version: string }[]
      }
      const target = live.live[0]!.version === '1.0.0' ? '1.1.0' : '1.0.0'
      ollama.store.delete(`bench-qwen:${target}`)
      recreateMs.push((await call('POST', '/api/v1/models/bench-qwen/rollback', { host: 'gpu-1', version: target })).ms)
    }
    const s = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`)
    const dp50 = pct(deployMs, 50)
    rows.push([
      `Model deploy (create+show+copy), p50 / p95 of ${DEPLOYS}`,
      `${s(dp50)} / ${s(pct(deployMs, 95))}`,
      '—',
      '1.0×',
      '',
    ])
    const rp50 = pct(rollbackMs, 50)
    const rp95 = pct(rollbackMs, 95)
    rows.push([
      `Model rollback on a host (copy), p50 / p95 of ${ROLLBACKS}`,
      `${s(rp50)} / ${s(rp95)}`,
      '< 60 s',
      `${(rp50 / dp50).toFixed(2)}×`,
      rp95 < 60_000 ? 'pass' : 'MISS',
    ])
    const cp50 = pct(recreateMs, 50)
    rows.push([
      `Model rollback, version gone from the host (create again), p50 of ${RECREATES}`,
      s(cp50),
      '< 60 s',
      `${(cp50 / dp50).toFixed(2)}×`,
      Math.max(...recreateMs) < 60_000 ? 'pass' : 'MISS',
    ])
    log(`  deploy p50 ${s(dp50)}, rollback p50 ${s(rp50)} p95 ${s(rp95)}, rollback with create p50 ${s(cp50)}`)
  } catch (error) {
    failed.push(`registry: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await server.stop()
    await ollama.close()
  }
  return { rows, failed }
}
