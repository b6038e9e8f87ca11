/**
 * Several instances on one database file under the fleet mix (issue 24), part of the `load` group,
 * opt-in: `BENCH_ONLY=load LOAD_INSTANCES=1,2,3 npm run bench` (LOAD_SCENARIOS=none skips the
 * sustained/spike/soak scenarios, LOAD_KIND_CPU=0 the per-kind CPU).
 *
 * One database file (one DATA_DIR and DATABASE_URL); one Homeostat started, the mix driven at
 * saturation, then a second started beside it and the same again, then a third. At saturation:
 * autocannon with a fixed number of connections in total (LOAD_INSTANCES_CONNECTIONS, default 30),
 * no rate cap, the connections split evenly over the instances (round-robin per connection), the
 * mix's kinds taken in one shared sequence. Each step: LOAD_INSTANCES_WARMUP seconds (default 5)
 * unmeasured, then LOAD_INSTANCES_SECONDS (default 20) measured.
 *
 * Every limit is raised (the bench's base env): rate limits are per instance, so at their defaults
 * N instances would have N times the budget and the figure would count 429s, not work.
 *
 * Figures per step: achieved req/s and its ratio to one instance, API errors, p95/p99, the servers'
 * CPU seconds a request and their RSS (each and summed, peak over the step). On a 2-core machine,
 * which also runs the load generator, more instances cannot add CPU: the ratio says what the
 * instances cost, not what more cores would give. Asserts nothing.
 */
import { driveMix, kindSequence, MIX, mergeRun, newRun, setupFleet, summary } from '../helpers/fleet.ts'
import { BUN, cpuSeconds, type Env, envFor, fmt, rssMb, runCommand, type Started, startHomeostat } from './lib.ts'

const COUNTS = (process.env.LOAD_INSTANCES ?? '')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0)
const CONNECTIONS = Number(process.env.LOAD_INSTANCES_CONNECTIONS ?? 30)
const WARMUP = Number(process.env.LOAD_INSTANCES_WARMUP ?? 5)
const SECONDS = Number(process.env.LOAD_INSTANCES_SECONDS ?? 20)
const ms = (n: number) => `${fmt(n, 1)} ms`

export const instancesWanted = () => COUNTS.length > 0

export async function instancesFigures(dir: string, base: Env, log: (line: string) => void) {
  const rows: string[][] = []
  const failed: string[] = []
  const env = envFor(dir, base, 'load-instances', {
    MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '0',
    PASSWORD_HASH_COST: '10',
  })
  const servers: Started[] = []
  const counts = COUNTS
  try {
    // The first instance alone makes the schema and the fleet; the others join the same file later.
    servers.push(await startHomeostat('homeostat (instances 1)', env))
    const admin = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'load-admin', '--role', 'admin'], env)
    const fleet = await setupFleet(servers[0]!.url, admin)
    log(
      `  instances on one file: ${counts.join(', ')}; ${CONNECTIONS} connections in all, ` +
        `${WARMUP} s warm-up + ${SECONDS} s each`,
    )
    let one = 0
    for (const [step, n] of counts.entries()) {
      // A count lower than the last stops the newest instances: `1,2,3,1` ends on one instance again,
      // on the database the earlier steps grew, which says whether growth rather than the count moved the figure.
      while (servers.length > n) await servers.pop()!.stop()
      while (servers.length < n) servers.push(await startHomeostat(`homeostat (instances ${servers.length + 1})`, env))
      const active = servers.slice(0, n)
      const next = kindSequence()
      // Warm-up: JIT and caches of a newly started instance, unmeasured.
      await spread(active, fleet, WARMUP, next)
      const cpu0 = active.map((s) => cpuSeconds(s.pid))
      const peaks = active.map((s) => rssMb(s.pid))
      const sampler = setInterval(() => {
        for (const [i, s] of active.entries()) peaks[i] = Math.max(peaks[i]!, rssOf(s.pid))
      }, 1000)
      let run: ReturnType<typeof newRun>
      try {
        run = await spread(active, fleet, SECONDS, next)
      } finally {
        clearInterval(sampler)
      }
      const cpu = active.reduce((sum, s, i) => sum + cpuSeconds(s.pid) - cpu0[i]!, 0)
      const all = summary(run, MIX, false)
      const api = summary(run)
      if (n === 1 && !one) one = all.rps
      const ratio = one ? `${(all.rps / one).toFixed(2)}× one` : ''
      const label = `load instances: step ${step + 1}, ${n} on one file (${CONNECTIONS} connections)`
      const rss = peaks.reduce((s, p) => s + p, 0)
      log(
        `    step ${step + 1}, ${n}: ${fmt(all.rps)} req/s ${ratio}; API errors ${api.errors} of ${fmt(api.count)}, ` +
          `p95 ${ms(api.p95)}, p99 ${ms(api.p99)}; servers' CPU ${fmt((cpu / SECONDS) * 100)} % ` +
          `(${fmt((cpu * 1e6) / Math.max(1, all.count))} µs a request); RSS ${peaks.map((p) => fmt(p, 1)).join(' + ')} MB`,
      )
      if (run.firstErrors.length) log(`    first errors: ${run.firstErrors.slice(0, 5).join('; ')}`)
      rows.push([`${label}: req/s at saturation`, fmt(all.rps), '—', ratio || 'baseline', ''])
      rows.push([
        `${label}: API errors · p95 / p99`,
        `${api.errors} of ${fmt(api.count)} · ${ms(api.p95)} / ${ms(api.p99)}`,
        '—',
        '',
        '',
      ])
      rows.push([
        `${label}: servers' CPU/req · RSS peak (sum)`,
        `${fmt((cpu * 1e6) / Math.max(1, all.count))} µs · ${fmt(rss, 1)} MB (${peaks.map((p) => fmt(p, 1)).join(' + ')})`,
        '—',
        '',
        '',
      ])
      if (api.errors) failed.push(`${label}: ${api.errors} API errors (${run.firstErrors.slice(0, 3).join('; ')})`)
    }
    return { rows, failed }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}

/** The mix at saturation, its connections split over `servers`, counted as one run of `seconds`. */
async function spread(
  servers: Started[],
  fleet: Awaited<ReturnType<typeof setupFleet>>,
  seconds: number,
  next: () => string,
) {
  const per = Math.max(1, Math.round(CONNECTIONS / servers.length))
  // rate 0: autocannon sends as fast as answers come back on each connection.
  const runs = await Promise.all(
    servers.map((s) => driveMix(s.url, fleet, { rate: 0, seconds, connections: per, next })),
  )
  const whole = newRun()
  for (const r of runs) mergeRun(whole, r)
  // The drives ran side by side: the run lasted `seconds`, not their sum.
  whole.seconds = seconds
  return whole
}

function rssOf(pid: number) {
  try {
    return rssMb(pid)
  } catch {
    return 0
  }
}
