/**
 * The bench's runs figures (`BENCH_ONLY=runs`), on a Homeostat of its own (Bun) over a database
 * seeded straight into the file first (seed-runs.ts: 100,000 runs, one run of 1,000 tasks):
 *
 * - failure → decision: POST /api/v1/runs/:id/tasks/:task/failed, each request a new failure of a
 *   new task (a syntax error → retry), so every one classifies, decides and writes; target p95 < 20 ms;
 * - GET /api/v1/runs/bench-big (the run with its 1,000 tasks): target p95 < 100 ms;
 * - GET /runs/bench-big, the dashboard's run page of that run (SVG graph, timeline, task table): p95 < 100 ms;
 * - GET /runs, the dashboard's list (first 50 of 100,000): p95 < 50 ms;
 * - GET /api/v1/runs?limit=50 over 100,000 runs, and the same filtered by label and by status:
 *   target p95 < 50 ms;
 * - GET /api/v1/whoami with the same key, the baseline, in the same rounds;
 * - the runs_watch job's tick over the same 100,000 runs (watch-runs.ts, before the server starts):
 *   none due, and with every old open run carrying its alerts.
 *
 * Requests go one at a time (one connection), interleaved across the figures so the machine's
 * noise falls on all alike; latency is measured by the client on loopback, which is the server's
 * time plus the loopback round trip (the whoami row shows that floor). RUNS_BENCH_SAMPLES requests
 * per figure (default 400) after 30 to warm up. Returns table rows and what failed; asserts nothing.
 */
import { BUN, benchKey, type Env, envFor, pct, runCommand, startHomeostat } from './lib.ts'

const SAMPLES = Number(process.env.RUNS_BENCH_SAMPLES ?? 400)
const WARM = 30

const ms = (n: number) => `${n.toFixed(2)} ms`

export async function runsFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  const env = envFor(dir, base, 'runs', { JOBS_ENABLED: 'false' })
  log('runs: seeding 100,000 runs and a run of 1,000 tasks')
  const seeded = runCommand(BUN, ['tests/bench/seed-runs.ts'], env)
  log(`  seeded: ${seeded}`)
  // The runs_watch job's tick, in a process of its own before the server opens the file.
  const watch = JSON.parse(runCommand(BUN, ['tests/bench/watch-runs.ts'], env, 300_000)) as {
    noneDue: { p50: number; p95: number; first: number }
    flagged: { p50: number; p95: number; first: number }
    flaggedRuns: number
  }
  log(`  runs_watch tick: ${JSON.stringify(watch)}`)
  const server = await startHomeostat('homeostat-runs', env)
  try {
    const key = benchKey(env, 'operator')
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }
    let n = 0
    const failure = () => {
      const i = n++
      return fetch(`${server.url}/api/v1/runs/bench-fail-${i % 200}/tasks/f${i}/failed`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ error: `  File "gen.py", line ${i}\nSyntaxError: invalid syntax` }),
      })
    }
    const get = (path: string) => () => fetch(server.url + path, { headers })
    const figures = [
      { id: 'whoami', figure: 'GET /api/v1/whoami (baseline)', send: get('/api/v1/whoami'), target: null },
      { id: 'decision', figure: 'failure → decision (POST …/failed)', send: failure, target: 20 },
      { id: 'run', figure: 'GET run with 1,000 tasks', send: get('/api/v1/runs/bench-big'), target: 100 },
      // The dashboard's run page (graph, timeline, task table as HTML) of the same run: three queries and the render.
      { id: 'page', figure: 'run page of 1,000 tasks (HTML)', send: get('/runs/bench-big'), target: 100 },
      { id: 'list', figure: 'runs list, 100,000 runs (limit 50)', send: get('/api/v1/runs?limit=50'), target: 50 },
      { id: 'listpage', figure: 'runs list page, 100,000 runs (HTML)', send: get('/runs'), target: 50 },
      {
        id: 'label',
        figure: 'runs list ?label=team:single',
        send: get('/api/v1/runs?limit=50&label=team:single'),
        target: 50,
      },
      {
        id: 'status',
        figure: 'runs list ?status=failed, page 3',
        send: get('/api/v1/runs?limit=50&status=failed&cursor=1700000000000:run-999999'),
        target: 50,
      },
    ].map((f) => ({ ...f, times: [] as number[] }))
    for (const f of figures) {
      const res = await f.send()
      const text = await res.text()
      if (res.status !== 200) throw new Error(`${f.figure}: ${res.status} ${text.slice(0, 300)}`)
      if (f.id === 'run' && (JSON.parse(text) as { tasks: unknown[] }).tasks.length !== 1000)
        throw new Error('the big run does not have 1,000 tasks')
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
    const whoami = figures[0]!.times.sort((a, b) => a - b)
    const w95 = pct(whoami, 0.95)
    for (const f of figures) {
      const sorted = f.times.sort((a, b) => a - b)
      const p95 = pct(sorted, 0.95)
      rows.push([
        `${f.figure} p50 / p95`,
        `${ms(pct(sorted, 0.5))} / ${ms(p95)}`,
        f.target ? `p95 < ${f.target} ms` : '—',
        f.target ? `${(p95 / w95).toFixed(1)}× whoami` : 'baseline',
        f.target ? (p95 < f.target ? 'pass' : 'MISS') : '',
      ])
    }
    rows.push([
      'runs_watch tick, 100,000 runs, none due p50 / p95',
      `${ms(watch.noneDue.p50)} / ${ms(watch.noneDue.p95)}`,
      '—',
      '',
      '',
    ])
    rows.push([
      'runs_watch first tick after start / after a policy change (every open run once)',
      `${ms(watch.noneDue.first)} / ${ms(watch.flagged.first)}`,
      '—',
      '',
      '',
    ])
    rows.push([
      `runs_watch tick, ${watch.flaggedRuns} runs with alerts open p50 / p95`,
      `${ms(watch.flagged.p50)} / ${ms(watch.flagged.p95)}`,
      '—',
      '',
      '',
    ])
    log(`  ${rows.map((r) => `${r[0]}: ${r[1]}`).join('; ')}`)
    return { rows, failed: [...new Set(failed)] }
  } finally {
    await server.stop()
  }
}
