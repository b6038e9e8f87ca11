/**
 * `npm run bench`: starts the bare baseline (tests/bench/baseline.ts), Homeostat on Bun and, for
 * remote write, Debian's Prometheus; drives each scenario with autocannon and prints one table of
 * figures, each with its target and its ratio to the baseline measured in this same run
 * (DESIGN.md "Performance"). See BENCHMARKS.md for what each figure measures.
 *
 * Scenarios come in groups run one after the other: platform (hello, health, whoami), ingest
 * (insert, single, batch), remote-write (prometheus, write), data (seeded query figures, see
 * data.ts) and alerts (breach → webhook, /api/v2/alerts vs Alertmanager, rule evaluation: see
 * alerts.ts). Each group's Homeostat starts on an empty database of its own. The machine is shared
 * and noisy, so within a group scenarios run in interleaved rounds (every scenario once per round)
 * and a ratio is the median of the per-round ratios: a scenario and its baseline are always measured
 * seconds apart. Server CPU per request (from /proc) is printed too; it is steadier than req/s when
 * other processes compete for the cores.
 *
 * Nothing here asserts: a missed target prints MISS and the exit code stays 0. The exit code is
 * non-zero only when something failed to run (a server did not start, a route answered errors).
 *
 * Knobs (env): BENCH_SECONDS (measured seconds per scenario, split over the rounds; default 9),
 * BENCH_ROUNDS (default 3), BENCH_WARMUP (seconds, default 2), BENCH_CONNECTIONS (default 50),
 * BENCH_ONLY (comma-separated scenario or group ids; the baselines of selected scenarios are kept),
 * BENCH_BESIDE (another checkout, e.g. /work/main: remote write to it too, in the same rounds),
 * SEED_POINTS / SEED_SERIES / SEED_SPAN_MINUTES (the data group's data set, see seed.ts).
 *
 * To add a figure, add a scenario to `scenarios` below (and, for a new server, a starter in `servers`).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { alertFigures } from './alerts.ts'
import { amapiFigures } from './amapi.ts'
import { backfillFigures } from './backfill.ts'
import { backupFigures } from './backups.ts'
import { healingFigures } from './healing.ts'
import { promptFigures } from './prompts.ts'
import { statusFigures } from './status.ts'
import { storeFigures } from './stores.ts'
import { registryFigures } from './registry.ts'
import { workflowFigures } from './workflows.ts'
import { validatorFigures } from './validator.ts'
import { n8nHealthFigures } from './n8n-health.ts'
import { missedScheduleFigures } from './n8n-missed.ts'
import { runsFigures } from './runs.ts'
import { fleetFigures } from './fleet.ts'
import { frontFigures } from './front.ts'
import { loadFigures } from './load.ts'
import { lockedFigures } from './locked.ts'
import { dataFigures } from './data.ts'
import { scaleFigures } from './scale.ts'
import { otlpFigures } from './otlp.ts'
import { otlpMetricsFigures } from './otlp-metrics.ts'
import { batch, BATCH_POINTS, remoteWritePool, REMOTE_WRITE_SERIES, singlePoint, startPrometheus } from './ingest.ts'
import {
  BUN,
  profileFlags,
  cpuSeconds,
  findProcess,
  freePort,
  load,
  median,
  printTable,
  routerReport,
  rssMb,
  runCommand,
  sleep,
  startHomeostat,
  startServer,
  stopAll,
  type LoadRequest,
  type LoadResult,
  type Started,
} from './lib.ts'
import { fmt } from './lib.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 9)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const IDLE_MS = 5000
const ONLY = process.env.BENCH_ONLY?.split(',')
  .map((s) => s.trim())
  .filter(Boolean)
// BENCH_BESIDE=<another checkout, e.g. main's>: remote write also goes to a Homeostat started from there, in the
// same interleaved rounds, so a branch's figures have the other's beside them, measured seconds apart.
const BESIDE = process.env.BENCH_BESIDE

const GROUPS = ['platform', 'ingest', 'remote-write'] as const
type Group = (typeof GROUPS)[number]
type ServerName = 'baseline' | 'homeostat' | 'ingest' | 'remote' | 'beside' | 'prometheus'
type Ctx = { key: (server: ServerName, kind: 'viewer' | 'ingest') => string; pool: ReturnType<typeof remoteWritePool> }

type Scenario = {
  id: string
  group: Group
  /** Label in the table. */
  figure: string
  server: ServerName
  path: string
  request?: (ctx: Ctx) => LoadRequest
  /** Status every response must have; anything else counts as a failure to run. */
  status?: number
  /** Scenario whose req/s and p99 this one is compared with (omit for a baseline). */
  baseline?: string
  /** Target: req/s at least this many times the baseline's. Omit to only report the ratio. */
  minRatio?: number
  connections?: number
  /** Points (samples) each request carries: the figure is then points/s. */
  points?: number
  /** Target: points/s at least this. */
  minPointsPerSecond?: number
  /** Called with the warm-up's result, before the measured rounds. */
  prepare?: (ctx: Ctx, warmup: LoadResult) => void
  /** Print the server's RSS after the group. */
  rss?: boolean
}

const ingestKey = (server: ServerName) => (ctx: Ctx) => `Bearer ${ctx.key(server, 'ingest')}`
// Remote-write bodies for the warm-ups and the measured rounds of both receivers, made before they run.
const prepareBodies = (ctx: Ctx, warmup: LoadResult) =>
  ctx.pool.prepare(Math.ceil(warmup.rps * (WARMUP + SECONDS) * 1.3) + 200)

const scenarios: Scenario[] = [
  { id: 'hello', group: 'platform', figure: 'baseline GET /hello (bare Hono)', server: 'baseline', path: '/hello' },
  { id: 'health', group: 'platform', figure: 'GET /health', server: 'homeostat', path: '/health', baseline: 'hello' },
  {
    id: 'whoami',
    group: 'platform',
    figure: 'GET /api/v1/whoami (API key)',
    server: 'homeostat',
    path: '/api/v1/whoami',
    request: (ctx) => ({ headers: { authorization: `Bearer ${ctx.key('homeostat', 'viewer')}` } }),
    baseline: 'hello',
    minRatio: 0.5,
  },
  {
    id: 'insert',
    group: 'ingest',
    figure: 'baseline POST /insert (bare libSQL)',
    server: 'baseline',
    path: '/insert',
    request: () => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', value: 42.5, ts: Date.now() }),
    }),
    status: 201,
  },
  {
    id: 'single',
    group: 'ingest',
    figure: 'POST /api/v1/metrics, 1 point (ingest key)',
    server: 'ingest',
    path: '/api/v1/metrics',
    request: (ctx) => singlePoint(ctx.key('ingest', 'ingest')),
    baseline: 'insert',
    minRatio: 0.6,
  },
  {
    id: 'batch',
    group: 'ingest',
    figure: `POST /api/v1/metrics, ${BATCH_POINTS} points JSON`,
    server: 'ingest',
    path: '/api/v1/metrics',
    request: (ctx) => batch(ctx.key('ingest', 'ingest')),
    connections: 20,
    points: BATCH_POINTS,
    minPointsPerSecond: 250_000,
    rss: true,
  },
  {
    id: 'prometheus',
    group: 'remote-write',
    figure: `Prometheus 2.42 remote write, ${REMOTE_WRITE_SERIES} series`,
    server: 'prometheus',
    path: '/api/v1/write',
    request: (ctx) => ctx.pool.request({}),
    status: 204,
    connections: 20,
    points: REMOTE_WRITE_SERIES,
    prepare: prepareBodies,
    rss: true,
  },
  {
    id: 'write',
    group: 'remote-write',
    figure: `POST /api/v1/write (remote write), ${REMOTE_WRITE_SERIES} series`,
    server: 'remote',
    path: '/api/v1/write',
    request: (ctx) => ctx.pool.request({ authorization: ingestKey('remote')(ctx) }),
    status: 204,
    baseline: 'prometheus',
    minRatio: 1.0, // issue 23: at least Prometheus' own receiver's rate
    connections: 20,
    points: REMOTE_WRITE_SERIES,
    prepare: prepareBodies,
    rss: true,
  },
  ...(BESIDE
    ? [
        {
          id: 'write-beside',
          group: 'remote-write',
          figure: `POST /api/v1/write (remote write, ${BESIDE}), ${REMOTE_WRITE_SERIES} series`,
          server: 'beside',
          path: '/api/v1/write',
          request: (ctx) => ctx.pool.request({ authorization: ingestKey('beside')(ctx) }),
          status: 204,
          baseline: 'prometheus',
          minRatio: 1.0,
          connections: 20,
          points: REMOTE_WRITE_SERIES,
          prepare: prepareBodies,
          rss: true,
        } satisfies Scenario,
      ]
    : []),
]

/** Memory target, read from the Homeostat process. */
const IDLE_RSS_MAX_MB = 80

// ---------------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'homeostat-bench-'))
const HIGH = '1000000' // the highest rate limit config accepts: the bench must never be throttled
const homeostatEnv = (name: string) => ({
  HOST: '127.0.0.1',
  DATABASE_URL: `file:${join(dir, name, 'homeostat.db')}`,
  DATA_DIR: join(dir, name),
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SECOND: HIGH,
  RATE_LIMIT_BURST: HIGH,
  IP_RATE_LIMIT_PER_SECOND: HIGH,
  IP_RATE_LIMIT_BURST: HIGH,
  INGEST_RATE_LIMIT_PER_SECOND: HIGH,
  INGEST_RATE_LIMIT_BURST: HIGH,
  ADMIN_EMAIL: 'bench@example.com',
  ADMIN_PASSWORD: 'bench-password-long-enough',
})
const homeostat = (name: ServerName) => async () =>
  // BENCH_PROFILE_DIR=<dir>: Homeostat writes a Markdown CPU profile there when it stops (bun --cpu-prof-md).
  startHomeostat(`homeostat (${name})`, homeostatEnv(name), profileFlags())

const servers: Record<ServerName, () => Promise<Started>> = {
  baseline: async () =>
    startServer({
      name: 'baseline',
      command: BUN,
      args: ['tests/bench/baseline.ts'],
      port: await freePort(),
      env: { DATA_DIR: join(dir, 'baseline') },
      readyPath: '/hello',
    }),
  homeostat: homeostat('homeostat'),
  ingest: homeostat('ingest'),
  remote: homeostat('remote'),
  beside: async () => startHomeostat(`homeostat (beside, ${BESIDE})`, homeostatEnv('beside'), profileFlags(), BESIDE),
  prometheus: () => startPrometheus(join(dir, 'prometheus')),
}

type Round = LoadResult & { cpuUsPerReq: number }
type Figures = { rps: number; p99: number; cpuUsPerReq: number; rounds: Round[] }

function summarise(rounds: Round[]): Figures {
  const requests = rounds.reduce((n, r) => n + r.requests, 0)
  const cpuUs = rounds.reduce((n, r) => n + r.cpuUsPerReq * r.requests, 0)
  return {
    rps: median(rounds.map((r) => r.rps)),
    p99: median(rounds.map((r) => r.p99)),
    cpuUsPerReq: requests ? cpuUs / requests : 0,
    rounds,
  }
}

/** Median over rounds of this scenario's figure ÷ its baseline's figure in the same round. */
const ratio = (a: Figures, b: Figures, pick: (r: Round) => number) =>
  median(a.rounds.map((r, i) => pick(r) / Math.max(pick(b.rounds[i]!), 1e-9)))

const selectedScenarios = () =>
  ONLY
    ? scenarios.filter(
        (s) =>
          ONLY.includes(s.id) ||
          ONLY.includes(s.group) ||
          scenarios.some((x) => x.baseline === s.id && (ONLY.includes(x.id) || ONLY.includes(x.group))),
      )
    : scenarios

/** Rows of one scenario for the table. */
function rowsOf(s: Scenario, f: Figures, base: Figures | undefined): string[][] {
  const rows: string[][] = []
  const rpsRatio = base ? ratio(f, base, (r) => r.rps) : undefined
  const ratioText =
    rpsRatio !== undefined ? `${rpsRatio.toFixed(2)}×` : scenarios.some((x) => x.baseline === s.id) ? 'baseline' : ''
  const byRatio = s.minRatio && rpsRatio !== undefined ? (rpsRatio >= s.minRatio ? 'pass' : 'MISS') : ''
  const ratioTarget = s.minRatio ? `≥ ${s.minRatio}× ${s.baseline}` : '—'
  if (s.points) {
    const pps = f.rps * s.points
    const byRate = s.minPointsPerSecond ? (pps >= s.minPointsPerSecond ? 'pass' : 'MISS') : ''
    const target = s.minPointsPerSecond ? `≥ ${fmt(s.minPointsPerSecond)}` : ratioTarget
    rows.push([`${s.figure} points/s`, fmt(pps), target, ratioText, s.minPointsPerSecond ? byRate : byRatio])
    rows.push([`${s.figure} req/s`, fmt(f.rps), '—', '', ''])
  } else {
    rows.push([`${s.figure} req/s`, fmt(f.rps), ratioTarget, ratioText, byRatio])
  }
  rows.push([
    `${s.figure} p99`,
    `${fmt(f.p99, 1)} ms`,
    '—',
    base ? `${ratio(f, base, (r) => r.p99).toFixed(2)}×` : '',
    '',
  ])
  const per = s.points ? `${fmt(f.cpuUsPerReq / s.points, 2)} µs` : `${fmt(f.cpuUsPerReq, 1)} µs`
  rows.push([
    `${s.figure} server CPU/${s.points ? 'point' : 'req'}`,
    per,
    '—',
    base ? `${(f.cpuUsPerReq / base.cpuUsPerReq).toFixed(2)}×` : '',
    '',
  ])
  return rows
}

async function runGroup(
  group: Group,
  list: Scenario[],
  started: Partial<Record<ServerName, Started>>,
  pids: Partial<Record<ServerName, number>>,
  ctx: Ctx,
  rows: string[][],
  failed: string[],
) {
  const requests = new Map(list.map((s) => [s.id, s.request?.(ctx) ?? {}]))
  const perRound = SECONDS / ROUNDS
  console.log(
    `${group}: ${list.length} scenarios × ${ROUNDS} interleaved rounds of ${fmt(perRound, 1)}s, ${WARMUP}s warm-up each`,
  )
  const url = (s: Scenario) => started[s.server]!.url + s.path

  // Check each route answers as expected, and warm it up.
  for (const s of list) {
    const req = requests.get(s.id)!
    const send = () =>
      fetch(url(s), {
        method: req.method ?? 'GET',
        headers: req.headers,
        body: typeof req.body === 'string' || req.body === undefined ? req.body : new Uint8Array(req.body),
      })
    // Once more on a closed socket: fetch may reuse a keep-alive connection the server has since
    // closed as idle (Bun's 10 s), which happens while another server's warm-up and bodies take long.
    const probe = await send().catch((error: { cause?: { code?: string } }) => {
      if (error?.cause?.code === 'UND_ERR_SOCKET') return send()
      throw error
    })
    const probeBody = await probe.text()
    if (probe.status !== (s.status ?? 200))
      throw new Error(`${s.figure}: expected ${s.status ?? 200}, got ${probe.status}: ${probeBody.slice(0, 300)}`)
    const warm =
      WARMUP > 0
        ? await load(url(s), req, { connections: s.connections ?? CONNECTIONS, seconds: WARMUP, warmupSeconds: 0 })
        : undefined
    if (warm && s.prepare) s.prepare(ctx, warm)
  }

  const rounds = new Map<string, Round[]>(list.map((s) => [s.id, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of list) {
      const pid = pids[s.server]!
      const cpu0 = cpuSeconds(pid)
      const r = await load(url(s), requests.get(s.id)!, {
        connections: s.connections ?? CONNECTIONS,
        seconds: perRound,
        warmupSeconds: 0,
      })
      const cpuUsPerReq = r.requests ? ((cpuSeconds(pid) - cpu0) * 1e6) / r.requests : 0
      rounds.get(s.id)!.push({ ...r, cpuUsPerReq })
      if (r.errors + r.non2xx > r.requests * 0.01 || r.requests === 0)
        failed.push(`${s.figure} (round ${round + 1}): ${r.errors} errors, ${r.non2xx} non-2xx of ${r.requests}`)
    }
    console.log(
      `  round ${round + 1}: ${list.map((s) => `${s.id} ${fmt(rounds.get(s.id)!.at(-1)!.rps)}`).join(', ')} req/s`,
    )
  }
  const figures = new Map(list.map((s) => [s.id, summarise(rounds.get(s.id)!)]))
  for (const s of list) rows.push(...rowsOf(s, figures.get(s.id)!, s.baseline ? figures.get(s.baseline) : undefined))
  for (const s of list)
    if (s.rss)
      rows.push([`${started[s.server]!.name} RSS after load`, `${fmt(rssMb(pids[s.server]!), 1)} MB`, '—', '', ''])
}

/** Feature groups after the request scenarios: each runs against its own server and returns its rows. */
const FEATURES: { name: string; note: string; run: typeof healingFigures }[] = [
  { name: 'alerts', note: 'breach → webhook, /api/v2/alerts vs Alertmanager, rule evaluation', run: alertFigures },
  {
    name: 'amapi',
    note: 'Alertmanager API: GET /api/v2/alerts, groups, silences over 1,000 alerts vs Alertmanager 0.25',
    run: amapiFigures,
  },
  { name: 'healing', note: 'detection → failover, GET /api/v1/model-routes/:name vs whoami', run: healingFigures },
  {
    name: 'prompts',
    note: 'GET /api/v1/prompts/:name vs whoami, score drop → prompt label moved',
    run: promptFigures,
  },
  {
    name: 'status',
    note: 'public status page (HTML, JSON, Atom, 304) signed out vs whoami; uncached build',
    run: statusFigures,
  },
  { name: 'workflows', note: 'pull of 500 workflows from the n8n stand-in', run: workflowFigures },
  {
    name: 'n8n',
    note: 'workflow health: poll of 200 workflows / 10,000 executions; missed schedule → alert delivered',
    run: async (dir, env, log) => {
      const poll = await n8nHealthFigures(dir, env, log)
      const missed = await missedScheduleFigures(dir, env, log)
      return { rows: [...poll.rows, ...missed.rows], failed: [...poll.failed, ...missed.failed] }
    },
  },
  {
    name: 'stores',
    note: 'command source, S3 and Qdrant through the outbound helper vs bare; RSS',
    run: (_dir, _env, log) => storeFigures(log),
  },
  {
    name: 'runs',
    note: 'failure → decision, GET run of 1,000 tasks, list over 100,000 runs vs whoami',
    run: runsFigures,
  },
  {
    name: 'otlp',
    note: 'POST /v1/traces: spans/s (protobuf batches, traces split over requests) vs single-point ingest',
    run: otlpFigures,
  },
  {
    name: 'otlp-metrics',
    note: 'POST /v1/metrics: points/s (protobuf batches) vs the same points as JSON batches and remote write',
    run: otlpMetricsFigures,
  },
  {
    name: 'backfill',
    note: '6 h of 1,000 series (1.44 M points) pushed behind the rollup watermark: RSS over time, rollups rebuilt',
    run: backfillFigures,
  },
  {
    name: 'scale',
    note: '10 M points over 50,000 series written directly into the tables (seed-direct.ts): 30-day query, overview, RSS',
    run: scaleFigures,
  },
  {
    name: 'fleet',
    note: 'GET /api/v1/metrics/query over 200 and 1,000 series (p95 by agent, 6 h and 30 d) vs one series',
    run: fleetFigures,
  },
  {
    name: 'front',
    note: 'GET / (the front page) over 1,000 components, 10,000 series, 100 firing alerts vs whoami',
    run: frontFigures,
  },
  {
    name: 'load',
    note: 'the fleet mix (tests/load/mix.json): sustained, spike, soak; per kind req/s, errors, p95/p99; RSS over time',
    run: loadFigures,
  },
  {
    name: 'locked',
    note: '/health latency and writes while another process holds the write lock for 10 s (ADR 0027)',
    run: lockedFigures,
  },
  { name: 'backups', note: 'snapshot + verify of 1M points vs sqlite3 .backup, RSS, p99, drill', run: backupFigures },
  {
    name: 'validator',
    note: '1,000 n8n workflows of 50 nodes through `workflows validate` (the CLI)',
    run: (dir, _env, log) => validatorFigures(dir, log),
  },
  {
    name: 'registry',
    note: 'model rollback on a host vs deploy (Ollama stand-in with Ollama-like latencies)',
    run: registryFigures,
  },
]

async function main(): Promise<number> {
  const selected = selectedScenarios()
  const withData = !ONLY || ONLY.includes('data')
  const features = FEATURES.filter((f) => !ONLY || ONLY.includes(f.name))
  if (!selected.length && !withData && !features.length)
    throw new Error(
      `BENCH_ONLY=${ONLY?.join(',')} selects nothing; ids: ${scenarios.map((s) => s.id).join(', ')}, groups: ${GROUPS.join(', ')}, data, ${FEATURES.map((f) => f.name).join(', ')}`,
    )
  const started: Partial<Record<ServerName, Started>> = {}
  const pids: Partial<Record<ServerName, number>> = {}
  const keys = new Map<string, string>()
  const ctx: Ctx = {
    key: (server, kind) => {
      const id = `${server}:${kind}`
      if (!keys.has(id)) {
        const args = [
          'app/cli.ts',
          'keys',
          'create',
          '--name',
          `bench-${kind}`,
          '--role',
          'viewer',
          ...(kind === 'ingest' ? ['--scope', 'ingest'] : []),
        ]
        const key = runCommand(BUN, args, homeostatEnv(server))
        if (!/^hs_\S+$/.test(key)) throw new Error(`the CLI printed something other than a key: ${key}`)
        keys.set(id, key)
      }
      return keys.get(id)!
    },
    pool: remoteWritePool(),
  }
  const rows: string[][] = []
  const failed: string[] = []

  for (const group of GROUPS) {
    const list = selected.filter((s) => s.group === group)
    if (!list.length) continue
    const names = [...new Set(list.map((s) => s.server))]
    for (const name of names) {
      if (started[name]) continue
      started[name] = await servers[name]()
      pids[name] = findProcess(started[name].pid, name === 'prometheus' ? /prometheus/ : /bun/) // the process itself, not a wrapper
    }
    let idleRss: number | undefined
    if (group === 'platform' && started.homeostat) {
      ctx.key('homeostat', 'viewer')
      await sleep(IDLE_MS)
      idleRss = rssMb(pids.homeostat!)
    }
    await runGroup(group, list, started, pids, ctx, rows, failed)
    if (group === 'platform' && started.homeostat) {
      const router = await appRouter()
      rows.push([
        'Hono router (whole app)',
        router.name.replace(/^(SmartRouter|StaticFirstRouter) \+ /, ''),
        'RegExpRouter',
        '',
        router.name.includes('RegExpRouter') ? '' : 'note',
      ])
      if (router.refused)
        console.log(
          `note: RegExpRouter refused ${router.refused} (a :param route beside a literal segment at the same place?), so every request goes through the slower TrieRouter.`,
        )
      if (router.error) console.log(`note: could not inspect the router: ${router.error}`)
      rows.push([
        'Homeostat idle RSS',
        `${fmt(idleRss!, 1)} MB`,
        `< ${IDLE_RSS_MAX_MB} MB`,
        '',
        idleRss! < IDLE_RSS_MAX_MB ? 'pass' : 'MISS',
      ])
      rows.push(['Homeostat RSS after load', `${fmt(rssMb(pids.homeostat!), 1)} MB`, '—', '', ''])
    }
    // Servers no later group uses stop now, so they take neither CPU nor memory from the next.
    const later = new Set(selected.filter((s) => GROUPS.indexOf(s.group) > GROUPS.indexOf(group)).map((s) => s.server))
    for (const name of names) if (!later.has(name)) await started[name]!.stop()
  }
  if (withData) {
    console.log('data: 1 000 000 points seeded before the server starts, then queries one at a time')
    rows.push(...(await dataFigures(dir, homeostatEnv('data'), (line) => console.log(line))).rows)
  }
  for (const feature of features) {
    console.log(`${feature.name}: ${feature.note}`)
    const run = await feature.run(dir, homeostatEnv(feature.name), (line) => console.log(line))
    rows.push(...run.rows)
    failed.push(...run.failed)
  }

  console.log('')
  printTable(['figure', 'value', 'target', 'ratio', 'result'], rows)
  console.log(
    '\nreq/s, points/s and p99: medians over rounds; ratio: median of per-round ratios to the baseline (req/s: higher is better; p99, CPU/req: lower is better).' +
      '\nCompare ratios, not absolute numbers.',
  )
  if (failed.length) {
    console.error(`\nThese scenarios did not run cleanly:\n  ${failed.join('\n  ')}`)
    return 1
  }
  return 0
}

/** The router of the real app, built in this process the way the tests build it. Diagnostic only. */
async function appRouter(): Promise<{ name: string; refused?: string; error?: string }> {
  try {
    const { testApp } = await import('../helpers/app.ts')
    const t = await testApp()
    try {
      return routerReport(t.app)
    } finally {
      t.close()
    }
  } catch (error) {
    return { name: 'unknown', error: error instanceof Error ? error.message : String(error) }
  }
}

let code = 1
const interrupt = () => {
  void stopAll().finally(() => {
    rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  })
}
process.on('SIGINT', interrupt)
process.on('SIGTERM', interrupt)
try {
  code = await main()
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`)
  code = 1
} finally {
  await stopAll()
  rmSync(dir, { recursive: true, force: true })
}
process.exit(code)
