/**
 * Agents' reads against `whoami` on the same server (model routes, prompts): each scenario probed once
 * for its status, warmed up, then measured in interleaved rounds (BENCH_SECONDS, BENCH_ROUNDS,
 * BENCH_WARMUP, BENCH_CONNECTIONS as in run.ts) with the server's CPU per request from /proc. The
 * first scenario is the baseline; each other one gets req/s (with its target), p99 and CPU/req rows,
 * each a median of per-round ratios to the baseline. Asserts nothing; what went wrong goes to `failed`.
 */
import { cpuSeconds, findProcess, type LoadRequest, type LoadResult, load, median, type Started } from './lib.ts'
import { fmt } from './lib.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 9)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)

export type ReadScenario = { id: string; figure: string; path: string; request: LoadRequest; status: number }
type Round = LoadResult & { cpuUsPerReq: number }

export async function readsAgainstBaseline(
  server: Started,
  [baseline, ...reads]: [ReadScenario, ...ReadScenario[]],
  opts: { label: string; minRatio: number; log: (line: string) => void; failed: string[] },
): Promise<string[][]> {
  const scenarios = [baseline, ...reads].map((s) => ({ ...s, rounds: [] as Round[] }))
  const pid = findProcess(server.pid, /bun/)
  for (const s of scenarios) {
    const probe = await fetch(server.url + s.path, { headers: s.request.headers })
    await probe.arrayBuffer()
    if (probe.status !== s.status) throw new Error(`${s.figure}: expected ${s.status}, got ${probe.status}`)
    if (WARMUP > 0)
      await load(server.url + s.path, s.request, { connections: CONNECTIONS, seconds: WARMUP, warmupSeconds: 0 })
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of scenarios) {
      const cpu0 = cpuSeconds(pid)
      const r = await load(server.url + s.path, s.request, {
        connections: CONNECTIONS,
        seconds: SECONDS / ROUNDS,
        warmupSeconds: 0,
      })
      s.rounds.push({ ...r, cpuUsPerReq: r.requests ? ((cpuSeconds(pid) - cpu0) * 1e6) / r.requests : 0 })
      // autocannon counts a 304 as non-2xx
      const bad = s.status === 304 ? r.errors : r.errors + r.non2xx
      if (bad > r.requests * 0.01 || r.requests === 0)
        opts.failed.push(`${s.figure} (round ${round + 1}): ${r.errors} errors, ${r.non2xx} non-2xx of ${r.requests}`)
    }
    const rps = scenarios.map((s) => `${s.id} ${fmt(s.rounds.at(-1)!.rps)}`).join(', ')
    opts.log(`  ${opts.label} read round ${round + 1}: ${rps} req/s`)
  }
  const [w, ...measured] = scenarios
  const med = (rounds: Round[], pick: (r: Round) => number) => median(rounds.map(pick))
  const rows: string[][] = [
    [`${w!.figure} req/s (${opts.label} run)`, fmt(med(w!.rounds, (r) => r.rps)), '—', 'baseline', ''],
    [
      `${w!.figure} p99`,
      `${fmt(
        med(w!.rounds, (r) => r.p99),
        1,
      )} ms`,
      '—',
      '',
      '',
    ],
    [
      `${w!.figure} server CPU/req`,
      `${fmt(
        med(w!.rounds, (r) => r.cpuUsPerReq),
        1,
      )} µs`,
      '—',
      '',
      '',
    ],
  ]
  for (const s of measured) {
    const byRound = (pick: (r: Round) => number) =>
      median(s.rounds.map((r, i) => pick(r) / Math.max(pick(w!.rounds[i]!), 1e-9)))
    const rpsRatio = byRound((r) => r.rps)
    rows.push(
      [
        `${s.figure} req/s`,
        fmt(med(s.rounds, (r) => r.rps)),
        `≥ ${opts.minRatio}× whoami`,
        `${rpsRatio.toFixed(2)}×`,
        rpsRatio >= opts.minRatio ? 'pass' : 'MISS',
      ],
      [
        `${s.figure} p99`,
        `${fmt(
          med(s.rounds, (r) => r.p99),
          1,
        )} ms`,
        '—',
        `${byRound((r) => r.p99).toFixed(2)}×`,
        '',
      ],
      [
        `${s.figure} server CPU/req`,
        `${fmt(
          med(s.rounds, (r) => r.cpuUsPerReq),
          1,
        )} µs`,
        '—',
        `${byRound((r) => r.cpuUsPerReq).toFixed(2)}×`,
        '',
      ],
    )
  }
  return rows
}
