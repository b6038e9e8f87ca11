/**
 * The front page figures (`BENCH_ONLY=front`), on a Homeostat of its own (Bun) over a database
 * seeded straight into the file first (seed-front.ts: 1,000 components, 10,000 series with 48 h of
 * hourly points rolled up, 100 firing alerts):
 *
 * - GET / (the whole first screen, every tile, 24 h range, as a viewer key): target p95 < 200 ms;
 * - GET /?range=7d and GET /?range=1h, the same page over the other ranges;
 * - GET /front/tiles/fleet and /front/tiles/agents-models, the two heaviest tiles alone;
 * - GET /api/v1/whoami with the same key, the baseline, in the same rounds;
 * - the front-summaries job (ADR 0028): the server runs its jobs, and the first tick after the start
 *   computes every range of the fleet and agents tiles (nothing is stored yet, as after an upgrade):
 *   that tick's duration, and whoami sent one at a time while it runs (p50 / p95 / max) against whoami
 *   in the rounds after it, so a stalled server shows as a ratio. The rounds above start once it is done,
 *   and the 1 h summary's refresh every minute runs beside them.
 *
 * Requests go one at a time (one connection), interleaved across the figures so the machine's noise
 * falls on all alike; latency is measured by the client on loopback (the whoami row shows that
 * floor). FRONT_BENCH_SAMPLES requests per figure (default 40) after 3 to warm up. Returns table rows
 * and what failed; asserts nothing.
 */
import { BUN, benchKey, type Env, envFor, pct, runCommand, startHomeostat } from './lib.ts'

const SAMPLES = Number(process.env.FRONT_BENCH_SAMPLES ?? 40)
const WARM = 3
export const FRONT_P95_MAX_MS = 200

const ms = (n: number) => `${n.toFixed(2)} ms`

export async function frontFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  // The server runs its jobs, as one does in production: the front page reads what front-summaries computes.
  const env = envFor(dir, base, 'front', { JOBS_ENABLED: 'true' })
  log('front: seeding 1,000 components, 10,000 series (48 h, rolled up), 100 firing alerts')
  log(`  seeded: ${runCommand(BUN, ['tests/bench/seed-front.ts'], env, 15 * 60_000)}`)
  const server = await startHomeostat('homeostat-front', env)
  try {
    const key = benchKey(env, 'viewer')
    const headers = { Authorization: `Bearer ${key}`, Accept: 'text/html' }
    const get = (path: string) => () => fetch(server.url + path, { headers })
    const job = await firstSummaries(server.url, headers, log)
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
      if (f.id === 'front' && !text.includes('data-component="svc-'))
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
    const during = job.whoami.sort((a, b) => a - b)
    rows.push(
      [
        'front-summaries job, first tick (all 3 ranges of both tiles)',
        `${(job.tookMs / 1000).toFixed(1)} s`,
        '—',
        job.counts,
        '',
      ],
      [
        'whoami while that tick runs p50 / p95 / max',
        `${ms(pct(during, 0.5))} / ${ms(pct(during, 0.95))} / ${ms(during.at(-1) ?? 0)}`,
        '—',
        `${(pct(during, 0.95) / w95).toFixed(1)}× whoami p95 after (${during.length} requests)`,
        '',
      ],
    )
    log(`  ${rows.map((r) => `${r[0]}: ${r[1]}`).join('; ')}`)
    return { rows, failed: [...new Set(failed)] }
  } finally {
    await server.stop()
  }
}

type JobsStatus = {
  jobs: {
    name: string
    lastRun: { status: string; startedAt: number; finishedAt: number | null; counts: unknown } | null
  }[]
}

/**
 * Waits for the front-summaries job's first tick on a fresh server (nothing stored: it computes every
 * range), sending whoami one at a time meanwhile; the latencies of those sent while the tick ran.
 */
async function firstSummaries(url: string, headers: Record<string, string>, log: (line: string) => void) {
  const sent: { at: number; took: number }[] = []
  const deadline = Date.now() + 240_000
  let lastPoll = 0
  for (;;) {
    if (Date.now() > deadline) throw new Error('front-summaries did not finish a tick within 4 minutes')
    const at = Date.now()
    const t0 = performance.now()
    await (await fetch(`${url}/api/v1/whoami`, { headers })).arrayBuffer()
    sent.push({ at, took: performance.now() - t0 })
    if (Date.now() - lastPoll < 1000) continue
    lastPoll = Date.now()
    const status = (await (await fetch(`${url}/api/v1/jobs`, { headers })).json()) as JobsStatus
    const run = status.jobs.find((j) => j.name === 'front-summaries')?.lastRun
    if (!run || run.status === 'running' || run.finishedAt === null) continue
    if (run.status !== 'success') throw new Error(`front-summaries: ${run.status}`)
    const inside = sent.filter((s) => s.at >= run.startedAt && s.at + s.took <= run.finishedAt!)
    const tookMs = run.finishedAt - run.startedAt
    log(`  front-summaries first tick: ${(tookMs / 1000).toFixed(1)} s, ${JSON.stringify(run.counts)}`)
    return { tookMs, counts: JSON.stringify(run.counts), whoami: inside.map((s) => s.took) }
  }
}
