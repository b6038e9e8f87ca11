/**
 * The front page figures (`BENCH_ONLY=front`), on a Homeostat of its own (Bun) over a database
 * seeded straight into the file first (seed-front.ts: 1,000 components, 10,000 series with 48 h of
 * hourly points rolled up, 100 firing alerts):
 *
 * - GET / (the whole first screen, every tile, 24 h range, as a viewer key): target p95 < 200 ms;
 * - GET /?range=7d and GET /?range=1h, the same page over the other ranges;
 * - GET /front/tiles/fleet and /front/tiles/agents-models, the two heaviest tiles alone;
 * - GET /api/v1/whoami with the same key, the baseline, in the same rounds.
 *
 * Requests go one at a time (one connection), interleaved across the figures so the machine's noise
 * falls on all alike; latency is measured by the client on loopback (the whoami row shows that
 * floor). FRONT_BENCH_SAMPLES requests per figure (default 40: each page takes seconds today, see
 * docs/front-page.md#performance) after 3 to warm up. Returns table rows and what failed; asserts nothing.
 */
import { BUN, benchKey, type Env, envFor, pct, runCommand, startHomeostat } from './lib.ts'

const SAMPLES = Number(process.env.FRONT_BENCH_SAMPLES ?? 40)
const WARM = 3
export const FRONT_P95_MAX_MS = 200

const ms = (n: number) => `${n.toFixed(2)} ms`

export async function frontFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  const env = envFor(dir, base, 'front', { JOBS_ENABLED: 'false' })
  log('front: seeding 1,000 components, 10,000 series (48 h, rolled up), 100 firing alerts')
  log(`  seeded: ${runCommand(BUN, ['tests/bench/seed-front.ts'], env, 15 * 60_000)}`)
  const server = await startHomeostat('homeostat-front', env)
  try {
    const key = benchKey(env, 'viewer')
    const headers = { Authorization: `Bearer ${key}`, Accept: 'text/html' }
    const get = (path: string) => () => fetch(server.url + path, { headers })
    const figures = [
      { id: 'whoami', figure: 'GET /api/v1/whoami (baseline)', send: get('/api/v1/whoami'), target: null },
      { id: 'front', figure: 'GET / (front page, 24 h)', send: get('/'), target: FRONT_P95_MAX_MS },
      { id: 'front7d', figure: 'GET /?range=7d', send: get('/?range=7d'), target: FRONT_P95_MAX_MS },
      { id: 'front1h', figure: 'GET /?range=1h', send: get('/?range=1h'), target: FRONT_P95_MAX_MS },
      { id: 'fleet', figure: 'GET /front/tiles/fleet (24 h)', send: get('/front/tiles/fleet'), target: null },
      {
        id: 'agents',
        figure: 'GET /front/tiles/agents-models (24 h)',
        send: get('/front/tiles/agents-models'),
        target: null,
      },
    ].map((f) => ({ ...f, times: [] as number[] }))
    for (const f of figures) {
      const res = await f.send()
      const text = await res.text()
      if (res.status !== 200) throw new Error(`${f.figure}: ${res.status} ${text.slice(0, 300)}`)
      if (f.id === 'front' && !text.includes('data-component="svc-0000"'))
        throw new Error('the front page does not show the fleet')
      if (f.id === 'front') log(`  GET / is ${(text.length / 1024).toFixed(0)} kB`)
    }
    for (let i = 0; i < WARM + SAMPLES; i++)
      for (const f of figures) {
        const t0 = performance.now()
        const res = await f.send()
        await res.arrayBuffer()
        const took = performance.now() - t0
        if (res.status !== 200) failed.push(`${f.figure}: ${res.status}`)
        if (i >= WARM) f.times.push(took)
      }
    const w95 = pct(
      figures[0]!.times.sort((a, b) => a - b),
      0.95,
    )
    for (const f of figures) {
      const sorted = f.times.sort((a, b) => a - b)
      const p95 = pct(sorted, 0.95)
      rows.push([
        `${f.figure} p50 / p95`,
        `${ms(pct(sorted, 0.5))} / ${ms(p95)}`,
        f.target ? `p95 < ${f.target} ms` : '—',
        f.id === 'whoami' ? 'baseline' : `${(p95 / w95).toFixed(1)}× whoami`,
        f.target ? (p95 < f.target ? 'pass' : 'MISS') : '',
      ])
    }
    log(`  ${rows.map((r) => `${r[0]}: ${r[1]}`).join('; ')}`)
    return { rows, failed: [...new Set(failed)] }
  } finally {
    await server.stop()
  }
}
