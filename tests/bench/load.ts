/**
 * The fleet load (`BENCH_ONLY=load`): the mix of tests/load/mix.json — agents' single points and
 * batches, Uptime-Kuma-style heartbeats, Prometheus's /api/v2/alerts, model-route and prompt reads
 * with If-None-Match, the n8n node's points, signed-in dashboard pages and HTMX fragments — sent by
 * autocannon at fixed overall rates in three scenarios: sustained, spike and soak (the same as the
 * k6 script tests/load/fleet.ts).
 *
 * Short form by default (about a minute per scenario, rates scaled to a shared 2-core machine:
 * mix.json's `short` stages); LOAD_FULL=1 runs the `full` stages (500 req/s for 5 min, a spike to
 * 2,000 req/s, 200 req/s for an hour). LOAD_SCENARIOS=sustained,spike,soak picks scenarios.
 *
 * One Homeostat (Bun, as `npm start`) on its own database. The per-address limit is raised (one
 * load generator stands in for a fleet's many addresses); the per-key and ingest limits stay at
 * their defaults, which the mix's keys (mix.json `fleet`) must not trip. Before each scenario, the
 * bare baseline's POST /insert is driven at the scenario's first rate for 10 s: the machine's
 * latency floor in this run, beside which the mix's p95/p99 are read as ratios.
 *
 * Figures per scenario: per kind req/s, error % and p95/p99; the API kinds together against the
 * thresholds (errors < 0.1 %, p95 < 50 ms, p99 < 200 ms); offered vs achieved rate; server RSS
 * sampled over time (the soak: growth after its warm-up). Asserts nothing; a MISS is a figure.
 *
 * LOAD_INSTANCES=1,2,3 (opt-in) adds several instances on one database file at saturation, after
 * these: tests/bench/load-instances.ts.
 */
import { join } from 'node:path'
import type autocannon from 'autocannon'
import {
  cannon,
  driveMix,
  type Fleet,
  kindSequence,
  MIX,
  mergeRun as merge,
  newRun,
  quantile,
  setupFleet,
  steps,
  summary,
} from '../helpers/fleet.ts'
import {
  BUN,
  cpuSeconds,
  type Env,
  envFor,
  fmt,
  freePort,
  rssMb,
  runCommand,
  startHomeostat,
  startServer,
  verdict,
} from './lib.ts'
import { instancesFigures, instancesWanted } from './load-instances.ts'
import { isScenario, SCENARIO_NAMES, type ScenarioName } from '../load/mix-types.ts'

type Name = ScenarioName
const FULL = process.env.LOAD_FULL === '1'
const SCENARIOS = (process.env.LOAD_SCENARIOS ?? SCENARIO_NAMES.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(isScenario)
const T = MIX.thresholds
const KIND_RATE = 20
const KIND_SECONDS = 5
const KIND_WARMUP = 2
const ms = (n: number) => `${fmt(n, 1)} ms`
const pctText = (r: number) => `${fmt(r * 100, 3)} %`

export async function loadFigures(dir: string, base: Env, log: (line: string) => void) {
  const mix =
    SCENARIOS.length || process.env.LOAD_KIND_CPU !== '0' ? await mixFigures(dir, base, log) : { rows: [], failed: [] }
  if (!instancesWanted()) return mix
  // After the one-instance scenarios have stopped their server: the instances have the cores alone.
  const more = await instancesFigures(dir, base, log)
  return { rows: [...mix.rows, ...more.rows], failed: [...mix.failed, ...more.failed] }
}

async function mixFigures(dir: string, base: Env, log: (line: string) => void) {
  const rows: string[][] = []
  const failed: string[] = []
  // The per-key and ingest limits at their defaults (the bench's base env raises every limit).
  const {
    RATE_LIMIT_PER_SECOND: _a,
    RATE_LIMIT_BURST: _b,
    INGEST_RATE_LIMIT_PER_SECOND: _c,
    INGEST_RATE_LIMIT_BURST: _d,
    ...rest
  } = base
  // No model-route probes (the routes' hosts are loopback ports nothing listens on); cheap password
  // hashes, so the setup's sign-ins take no minute on a loaded machine (sign-in is not in the mix).
  const env = envFor(dir, rest, 'load', { MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '0', PASSWORD_HASH_COST: '10' })
  const server = await startHomeostat('homeostat (load)', env)
  const baseline = await startServer({
    name: 'baseline (load)',
    command: BUN,
    args: ['tests/bench/baseline.ts'],
    port: await freePort(),
    env: { DATA_DIR: join(dir, 'load-baseline') },
    readyPath: '/hello',
  })
  try {
    const admin = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'load-admin', '--role', 'admin'], env)
    const fleet = await setupFleet(server.url, admin)
    log(`  ${FULL ? 'full' : 'short'} form; setup: ${describeFleet(fleet)}`)
    if (process.env.LOAD_KIND_CPU !== '0') rows.push(...(await cpuPerKind(server, fleet, log)))
    for (const name of SCENARIOS) {
      const r = await scenario(name, server, baseline.url, fleet, log)
      rows.push(...r.rows)
      failed.push(...r.failed)
    }
    return { rows, failed }
  } finally {
    await server.stop()
    await baseline.stop()
  }
}

const describeFleet = (f: Fleet) =>
  `${f.ingestKeys.length} ingest keys, ${f.readerKeys.length} reader keys, ${f.n8nKeys.length} n8n keys, ` +
  `${f.pushTokens.length} push components, ${f.routes.length} model routes, ${f.prompts.length} prompts, ` +
  `${f.cookies.length} signed-in users`

async function scenario(
  name: Name,
  server: { url: string; pid: number },
  baselineUrl: string,
  fleet: Fleet,
  log: (line: string) => void,
) {
  const form = MIX.scenarios[name][FULL ? 'full' : 'short']
  const plan = steps(form.stages)
  const total = plan.reduce((s, p) => s + p.seconds, 0)
  const rows: string[][] = []
  const failed: string[] = []
  const label = `load ${name}${FULL ? '' : ' (short)'}`
  log(`  ${label}: ${form.stages.map((s) => `${s.ramp ? '→' : ''}${s.rate}/s×${s.seconds}s`).join(', ')}`)

  const floor = await floorOf(baselineUrl, form.stages[0]!.rate, 10)

  // RSS over the run: every second in the short form, every 10 s in the full one.
  const rss: { at: number; mb: number }[] = []
  const t0 = performance.now()
  const sample = () => rss.push({ at: (performance.now() - t0) / 1000, mb: rssOf(server.pid) })
  sample()
  const sampler = setInterval(sample, FULL ? 10_000 : 1000)
  const next = kindSequence()
  const whole = newRun()
  const phases: { label: string; run: ReturnType<typeof newRun>; rate: number }[] = []
  try {
    for (const [i, step] of plan.entries()) {
      const run = newRun()
      await driveMix(server.url, fleet, { rate: step.rate, seconds: step.seconds, next, into: run })
      merge(whole, run)
      // The spike's phases: before, at the peak, after (ramps fold into the phase they lead to).
      const phase =
        name !== 'spike' ? 'all' : i === 0 ? 'before' : step.rate === peakOf(form.stages) ? 'peak' : 'ramp/after'
      const at = phases.find((p) => p.label === phase)
      if (at) merge(at.run, run)
      else phases.push({ label: phase, run, rate: step.rate })
    }
  } finally {
    clearInterval(sampler)
    sample()
  }

  const offered = plan.reduce((s, p) => s + p.rate * p.seconds, 0) / total
  const api = summary(whole)
  const all = summary(whole, MIX, false)
  log(
    `    ${fmt(all.count)} requests in ${fmt(total)} s (offered ${fmt(offered)}/s, achieved ${fmt(all.rps)}/s); API p95 ${ms(api.p95)}, p99 ${ms(api.p99)}, errors ${pctText(api.errorRate)}`,
  )
  if (whole.firstErrors.length) log(`    first errors: ${whole.firstErrors.slice(0, 5).join('; ')}`)
  for (const k of MIX.kinds) {
    const s = whole.kinds.get(k.id)!
    rows.push([
      `${label}: ${k.id} req/s · errors · p95 / p99`,
      `${fmt(s.count / total, 1)} · ${pctText(s.count ? s.errors / s.count : 0)} · ${ms(quantile(s.latencies, 0.95))} / ${ms(quantile(s.latencies, 0.99))}`,
      '—',
      '',
      '',
    ])
  }
  rows.push([
    `${label}: all kinds req/s (offered)`,
    `${fmt(all.rps)} (${fmt(offered)})`,
    `≥ 0.95× offered`,
    `${(all.rps / offered).toFixed(2)}×`,
    verdict(all.rps >= offered * 0.95),
  ])
  rows.push([
    `${label}: API errors`,
    `${pctText(api.errorRate)} of ${fmt(api.count)}`,
    `< ${T.errorRate * 100} %`,
    '',
    verdict(api.errorRate < T.errorRate),
  ])
  rows.push([
    `${label}: API p95`,
    ms(api.p95),
    `< ${T.apiP95Ms} ms`,
    `${(api.p95 / floor.p95).toFixed(1)}× floor`,
    verdict(api.p95 < T.apiP95Ms),
  ])
  rows.push([
    `${label}: API p99`,
    ms(api.p99),
    `< ${T.apiP99Ms} ms`,
    `${(api.p99 / floor.p99).toFixed(1)}× floor`,
    verdict(api.p99 < T.apiP99Ms),
  ])
  rows.push([
    `${label}: floor (bare POST /insert at ${fmt(form.stages[0]!.rate)}/s) p95 / p99`,
    `${ms(floor.p95)} / ${ms(floor.p99)}`,
    '—',
    'baseline',
    '',
  ])
  if (name === 'spike')
    for (const p of phases) {
      const s = summary(p.run)
      rows.push([
        `${label}: ${p.label} API req/s · errors · p95 / p99`,
        `${fmt(s.rps)} · ${pctText(s.errorRate)} · ${ms(s.p95)} / ${ms(s.p99)}`,
        `p95 < ${T.apiP95Ms}, p99 < ${T.apiP99Ms} ms`,
        '',
        verdict(s.errorRate < T.errorRate && s.p95 < T.apiP95Ms && s.p99 < T.apiP99Ms),
      ])
    }
  const first = rss[0]!.mb
  const peak = Math.max(...rss.map((r) => r.mb))
  const last = rss.at(-1)!.mb
  rows.push([
    `${label}: server RSS start / peak / end`,
    `${fmt(first, 1)} / ${fmt(peak, 1)} / ${fmt(last, 1)} MB`,
    '—',
    '',
    '',
  ])
  if (name === 'soak') {
    const warm = form.warmupSeconds ?? 0
    const after = rss.filter((r) => r.at >= warm)
    const growth = after.length > 1 ? medianTail(after, 'end') - medianTail(after, 'start') : 0
    log(
      `    RSS over time (s: MB): ${thin(rss)
        .map((r) => `${fmt(r.at)}: ${fmt(r.mb, 1)}`)
        .join(', ')}`,
    )
    rows.push([
      `${label}: RSS growth after ${fmt(warm)} s warm-up`,
      `${growth >= 0 ? '+' : ''}${fmt(growth, 1)} MB`,
      `< ${T.soakRssGrowthMb} MB`,
      '',
      verdict(growth < T.soakRssGrowthMb),
    ])
  }
  if (api.errors) failed.push(`${label}: ${api.errors} API errors (${whole.firstErrors.slice(0, 3).join('; ')})`)
  return { rows, failed }
}

/**
 * Server CPU per request of each kind alone (LOAD_KIND_CPU=0 skips it): KIND_RATE req/s of one kind
 * for KIND_SECONDS after KIND_WARMUP seconds of the same (JIT, caches, series made), CPU time from
 * /proc over the requests answered. Steadier than latency on a busy machine, and it says which kind
 * the mix's time goes to. The server's CPU while idle (its jobs) is measured first and shown
 * subtracted too: at 20 req/s it is a large part of a cheap request's share.
 */
async function cpuPerKind(server: { url: string; pid: number }, fleet: Fleet, log: (line: string) => void) {
  const rate = KIND_RATE
  const seconds = KIND_SECONDS
  const rows: string[][] = []
  const parts: string[] = []
  const idle0 = cpuSeconds(server.pid)
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const idlePerSecond = (cpuSeconds(server.pid) - idle0) / 3
  let weighted = 0
  let weightedNet = 0
  for (const k of MIX.kinds) {
    await driveMix(server.url, fleet, { rate, seconds: KIND_WARMUP, next: () => k.id })
    const cpu0 = cpuSeconds(server.pid)
    const run = await driveMix(server.url, fleet, { rate, seconds, next: () => k.id })
    const n = run.kinds.get(k.id)!.count
    const cpu = cpuSeconds(server.pid) - cpu0
    const us = n ? (cpu * 1e6) / n : 0
    const net = n ? Math.max(0, ((cpu - idlePerSecond * seconds) * 1e6) / n) : 0
    weighted += (us * k.weight) / 100
    weightedNet += (net * k.weight) / 100
    parts.push(`${k.id} ${fmt(us)} µs (${fmt(net)} less idle)`)
    rows.push([`load: ${k.id} alone, server CPU/req (${rate}/s × ${seconds} s)`, `${fmt(us)} µs`, '—', '', ''])
  }
  const perCore = weightedNet ? 1e6 / weightedNet : 0
  log(`  server CPU per request, each kind alone (idle server: ${fmt(idlePerSecond * 1000)} ms/s): ${parts.join(', ')}`)
  log(
    `  the mix, weighted: ${fmt(weighted)} µs a request, ${fmt(weightedNet)} µs less idle ≈ ${fmt(perCore)} req/s a core`,
  )
  rows.push([
    `load: the mix, weighted server CPU/req (less idle)`,
    `${fmt(weighted)} µs (${fmt(weightedNet)} µs)`,
    '—',
    '',
    '',
  ])
  return rows
}

const peakOf = (stages: { rate: number }[]) => Math.max(...stages.map((s) => s.rate))

/** The median RSS of the first or last fifth of the samples (at least 3): noise-resistant ends. */
function medianTail(samples: { mb: number }[], end: 'start' | 'end') {
  const n = Math.max(3, Math.ceil(samples.length / 5))
  const part = end === 'start' ? samples.slice(0, n) : samples.slice(-n)
  return quantile(
    part.map((s) => s.mb),
    0.5,
  )
}

/** At most 20 samples of the series, evenly spaced, for the log. */
const thin = <T>(xs: T[]) =>
  xs.filter((_, i) => i % Math.max(1, Math.ceil(xs.length / 20)) === 0 || i === xs.length - 1)

function rssOf(pid: number) {
  try {
    return rssMb(pid)
  } catch {
    return Number.NaN
  }
}

/** The bare baseline's POST /insert at `rate` for `seconds`: p95/p99 of its answers (ms). */
async function floorOf(url: string, rate: number, seconds: number) {
  const times: number[] = []
  const instance = cannon({
    url: `${url}/insert`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: Math.min(500, Math.max(10, Math.ceil(rate / 4))),
    overallRate: rate,
    duration: seconds,
    requests: [
      {
        setupRequest: (r: autocannon.Request) => ({
          ...r,
          body: JSON.stringify({ name: 'load', value: 1, ts: Date.now() }),
        }),
      },
    ],
  })
  ;(instance as unknown as NodeJS.EventEmitter).on(
    'response',
    (_c: unknown, _status: number, _bytes: number, took: number) => times.push(took),
  )
  await instance
  return { p95: quantile(times, 0.95), p99: quantile(times, 0.99) }
}
