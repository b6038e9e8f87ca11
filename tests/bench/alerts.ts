/**
 * The bench's alert figures (`BENCH_ONLY=alerts`), each on a Homeostat of its own (Bun, empty DB):
 *
 * - Breach-to-delivery: a webhook channel pointing at a local receiver (tests/helpers/receiver.ts)
 *   and a threshold rule with `for: 0`; ALERT_TRIALS times (default 100): POST a breaching point to
 *   /api/v1/metrics and time until the receiver gets the `fired` webhook, then a resolving point
 *   and the `resolved` webhook. One trial at a time; the receiver is polled every 2 ms.
 * - Intake: POST /api/v2/alerts, 10 alerts a request, 50 connections, side by side with Debian's
 *   Alertmanager 0.25 (when /usr/bin/prometheus-alertmanager exists) on the same payloads, in
 *   interleaved rounds (BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP as in run.ts), on each workload of
 *   ALERT_WORKLOADS (default `bench,random,groups`, see alert-workloads.ts), each on a fresh pair.
 * - Rule evaluation: 1 000 rules over 10 000 series (tests/bench/alerts-eval.ts, run with Bun).
 *
 * Returns table rows and what failed to run; asserts nothing.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startReceiver, type Received } from '../helpers/receiver.ts'
import {
  BUN,
  cpuSeconds,
  threadCpuSeconds,
  findProcess,
  freePort,
  load,
  median,
  rssMb,
  runCommand,
  sleep,
  START,
  startHomeostat,
  startServer,
  type LoadRequest,
  type LoadResult,
  type Started,
} from './lib.ts'
import { fmt, verdict, pct, type Env, envFor } from './lib.ts'
import { GROUP_NAMES, RANDOM_POOL, randomBodies } from './alert-workloads.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 9)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const TRIALS = Number(process.env.ALERT_TRIALS ?? 100)
export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager'
export const ALERTS_PER_REQUEST = 10
/** Label sets the intake's repeats are drawn from (about one alert in ten is new instead). */
export const INTAKE_POOL = 10_000

export const DELIVERY_P95_MAX_MS = 2000
export const INTAKE_RSS_MAX_MB = 200

/** Extra Bun flags for the alert servers (e.g. `--cpu-prof-md` to profile the intake). */
const BUN_FLAGS = (process.env.ALERT_BUN_FLAGS ?? '').split(' ').filter(Boolean)
/** Which parts run (comma-separated: delivery, intake, eval); all by default. */
const PARTS = new Set((process.env.ALERT_PARTS ?? 'delivery,intake,eval').split(',').map((s) => s.trim()))
const homeostat = (name: string, env: Env) => startHomeostat(name, env, BUN_FLAGS)
const keyFor = (env: Env, role: 'operator' | 'ingest') => {
  const args = [
    'app/cli.ts',
    'keys',
    'create',
    '--name',
    `bench-${role}`,
    '--role',
    role === 'ingest' ? 'viewer' : 'operator',
    ...(role === 'ingest' ? ['--scope', 'ingest'] : []),
  ]
  const key = runCommand(BUN, args, env)
  if (!/^hs_\S+$/.test(key)) throw new Error(`the CLI printed something other than a key: ${key}`)
  return key
}

async function post(url: string, key: string, body: unknown, expect: number) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status !== expect)
    throw new Error(`POST ${url}: expected ${expect}, got ${res.status}: ${text.slice(0, 300)}`)
  return text ? JSON.parse(text) : null
}

// --- 1. breach → webhook delivered ---------------------------------------------------------------

async function deliveryFigures(dir: string, base: Env, log: (line: string) => void): Promise<string[][]> {
  const env = envFor(dir, base, 'alerts-delivery')
  const server = await homeostat('homeostat (alerts delivery)', env)
  const receiver = await startReceiver()
  try {
    const operator = keyFor(env, 'operator')
    const ingest = keyFor(env, 'ingest')
    await post(
      `${server.url}/api/v1/channels`,
      operator,
      { name: 'bench webhook', type: 'webhook', settings: { url: `${receiver.url}/hook` } },
      201,
    )
    await post(
      `${server.url}/api/v1/alert-rules`,
      operator,
      {
        name: 'bench breach',
        kind: 'threshold',
        metric: 'bench_breach',
        agg: 'last',
        window: '10s',
        comparator: '>',
        value: 50,
        for: 0,
        severity: 'critical',
      },
      201,
    )
    const point = (value: number) =>
      post(
        `${server.url}/api/v1/metrics`,
        ingest,
        { name: 'bench_breach', value, labels: { target: 'bench' }, ts: Date.now() },
        200,
      )
    const arrival = async (event: string, t0: number) => {
      const deadline = t0 + 10_000
      for (;;) {
        const got = receiver.requests.find((r: Received) => (r.json as { event?: string } | null)?.event === event)
        if (got) return performance.now() - t0
        if (performance.now() > deadline)
          throw new Error(
            `no ${event} webhook within 10 s (received: ${receiver.requests.map((r) => (r.json as { event?: string })?.event).join(', ') || 'nothing'})`,
          )
        await sleep(2)
      }
    }
    const fired: number[] = []
    const resolved: number[] = []
    for (let i = 0; i < TRIALS; i++) {
      receiver.clear()
      let t0 = performance.now()
      await point(100)
      fired.push(await arrival('fired', t0))
      receiver.clear()
      t0 = performance.now()
      await point(0)
      resolved.push(await arrival('resolved', t0))
    }
    fired.sort((a, b) => a - b)
    resolved.sort((a, b) => a - b)
    log(
      `  alerts: breach → fired webhook ×${fired.length}: p50 ${fmt(pct(fired, 0.5))} ms, p95 ${fmt(pct(fired, 0.95))} ms, max ${fmt(fired.at(-1)!)} ms; resolved p50 ${fmt(pct(resolved, 0.5))} ms`,
    )
    return [
      [`breach → webhook fired p50 (${fired.length} trials)`, `${fmt(pct(fired, 0.5))} ms`, '—', '', ''],
      [
        `breach → webhook fired p95 (${fired.length} trials)`,
        `${fmt(pct(fired, 0.95))} ms`,
        `< ${fmt(DELIVERY_P95_MAX_MS)} ms`,
        '',
        verdict(pct(fired, 0.95) < DELIVERY_P95_MAX_MS),
      ],
      [
        'resolving point → webhook resolved p50 / p95',
        `${fmt(pct(resolved, 0.5))} / ${fmt(pct(resolved, 0.95))} ms`,
        '—',
        '',
        '',
      ],
    ]
  } finally {
    await receiver.close()
    await server.stop()
  }
}

// --- 2. intake: POST /api/v2/alerts vs Alertmanager ----------------------------------------------

/**
 * Request bodies for POST /api/v2/alerts, the same sequence for every server: 10 alerts each; the
 * first is new (an instance never seen before), the other nine come round from a pool of 10 000
 * label sets (20 alert names, 4 severities), so most are repeats of firing alerts. Every 20th
 * request resolves its nine (endsAt in the past); their next report starts a new incident.
 */
export function intakeBodies() {
  let n = 0
  let fresh = 0
  const severities = ['critical', 'warning', 'warning', 'info']
  const alert = (labels: Record<string, string>, startsAt: string, endsAt: string) =>
    `{"labels":${JSON.stringify(labels)},"annotations":{"summary":"${labels.alertname} on ${labels.instance}","description":"Bench alert: the value crossed its threshold on ${labels.instance}."},"startsAt":"${startsAt}","endsAt":"${endsAt}","generatorURL":"http://prometheus.example:9090/graph?g0.expr=up"}`
  return () => {
    const k = n++
    const now = Date.now()
    const resolved = k % 20 === 19
    const items = [
      alert(
        { alertname: 'BenchNew', instance: `new-${fresh++}`, job: 'bench', severity: 'warning' },
        new Date(now - 1000).toISOString(),
        new Date(now + 300_000).toISOString(),
      ),
    ]
    for (let j = 0; j < ALERTS_PER_REQUEST - 1; j++) {
      const p = (k * (ALERTS_PER_REQUEST - 1) + j) % INTAKE_POOL
      const labels = {
        alertname: `Bench${p % 20}`,
        instance: `host-${String(p).padStart(5, '0')}:9100`,
        job: 'node',
        severity: severities[p % 4]!,
      }
      items.push(
        resolved
          ? alert(labels, new Date(now - 2000).toISOString(), new Date(now - 1000).toISOString())
          : alert(labels, new Date(now - 1000).toISOString(), new Date(now + 300_000).toISOString()),
      )
    }
    return `[${items.join(',')}]`
  }
}

/** The intake workloads (alert-workloads.ts): each a body generator per server, and Alertmanager's grouping for it. */
type Workload = { id: string; note: string; bodies: () => () => string; groupBy?: string[] }
const WORKLOADS: Workload[] = [
  { id: 'bench', note: 'pool of 10 000 in order', bodies: intakeBodies },
  {
    id: 'random',
    note: `random order over ${fmt(RANDOM_POOL)} label sets, 8 teams`,
    bodies: () => randomBodies(RANDOM_POOL, 20, 23, ALERTS_PER_REQUEST),
  },
  {
    id: 'groups',
    note: `random order, ${fmt(GROUP_NAMES * 8)} groups (Alertmanager group_by alertname, team)`,
    bodies: () => randomBodies(RANDOM_POOL, GROUP_NAMES, 23, ALERTS_PER_REQUEST),
    groupBy: ['alertname', 'team'],
  },
]
const WORKLOAD_IDS = (process.env.ALERT_WORKLOADS ?? 'bench,random,groups').split(',').map((s) => s.trim())

/**
 * µs CPU an alert by thread, largest first: the main thread, the database's transaction thread
 * (`Worker` or a pool thread), the JIT's compiler threads (`JIT…`, `JSCWarmUp`) together, then the
 * rest (collector, allocator, HTTP) together.
 */
function threadSplit(byThread: Map<string, number>, alerts: number) {
  const groups = new Map<string, number>()
  for (const [name, seconds] of byThread) {
    const group =
      name === 'main' ? 'main' : /^JIT|JSCWarmUp/.test(name) ? 'JIT' : /Worker|Pool/.test(name) ? name : 'other'
    groups.set(group, (groups.get(group) ?? 0) + seconds)
  }
  return [...groups]
    .filter(([, seconds]) => (seconds * 1e6) / alerts >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, seconds]) => `${name} ${fmt((seconds * 1e6) / alerts, 1)}`)
    .join(' · ')
}

/** Alertmanager 0.25 on 127.0.0.1 with a null receiver (grouping by `groupBy`, if any), its files under `dir/folder`. */
export async function startAlertmanager(dir: string, folder = 'alertmanager', groupBy?: string[]): Promise<Started> {
  const home = join(dir, folder)
  mkdirSync(join(home, 'data'), { recursive: true })
  const group = groupBy ? `\n  group_by: [${groupBy.join(', ')}]` : ''
  writeFileSync(join(home, 'alertmanager.yml'), `route:\n  receiver: 'null'${group}\nreceivers:\n  - name: 'null'\n`)
  const port = await freePort()
  return startServer({
    name: 'alertmanager 0.25',
    command: ALERTMANAGER,
    args: [
      `--config.file=${join(home, 'alertmanager.yml')}`,
      `--storage.path=${join(home, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    port,
    readyPath: '/-/ready',
  })
}

type Round = LoadResult & { cpuUsPerReq: number }
type Target = {
  id: 'homeostat' | 'alertmanager'
  name: string
  url: string
  pid: number
  request: LoadRequest
  rounds: Round[]
}

async function intakeFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
  failed: string[],
): Promise<string[][]> {
  const rows: string[][] = []
  for (const w of WORKLOADS)
    if (WORKLOAD_IDS.includes(w.id)) rows.push(...(await workloadFigures(dir, base, log, failed, w)))
  return rows
}

/** One workload on a fresh Homeostat and a fresh Alertmanager, in interleaved rounds. */
async function workloadFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
  failed: string[],
  w: Workload,
): Promise<string[][]> {
  // The first workload keeps the names its figures always had (BENCHMARKS.md refers to them).
  const suffix = w.id === 'bench' ? '' : `-${w.id}`
  const env = envFor(dir, base, `alerts-intake${suffix}`)
  const server = await homeostat(`homeostat (alerts intake${suffix ? `, ${w.id}` : ''})`, env)
  const am = existsSync(ALERTMANAGER) ? await startAlertmanager(dir, `alertmanager${suffix}`, w.groupBy) : undefined
  if (!am) log(`  alerts: ${ALERTMANAGER} not installed (apt-get install prometheus-alertmanager): Homeostat only`)
  try {
    const key = keyFor(env, 'ingest')
    const request = (headers: Record<string, string>): LoadRequest => {
      const next = w.bodies()
      return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: next(), next }
    }
    const targets: Target[] = [
      ...(am
        ? [
            {
              id: 'alertmanager' as const,
              name: am.name,
              url: `${am.url}/api/v2/alerts`,
              pid: findProcess(am.pid, /alertmanager/),
              request: request({}),
              rounds: [],
            },
          ]
        : []),
      {
        id: 'homeostat',
        name: 'Homeostat',
        url: `${server.url}/api/v2/alerts`,
        pid: findProcess(server.pid, /bun/),
        request: request({ authorization: `Bearer ${key}` }),
        rounds: [],
      },
    ]
    for (const t of targets) {
      const probe = await fetch(t.url, { method: 'POST', headers: t.request.headers, body: t.request.body as string })
      const text = await probe.text()
      if (probe.status !== 200)
        throw new Error(`${t.name} POST /api/v2/alerts: expected 200, got ${probe.status}: ${text.slice(0, 300)}`)
      if (WARMUP > 0) await load(t.url, t.request, { connections: CONNECTIONS, seconds: WARMUP, warmupSeconds: 0 })
    }
    const perRound = SECONDS / ROUNDS
    // Homeostat's CPU by thread over the rounds (ADR 0013, fifth pass: a fresh server's JIT threads
    // compile for the whole of a short run, which the Go binary beside it never does).
    const hPid = targets.find((t) => t.id === 'homeostat')!.pid
    const byThread = new Map<string, number>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const threads0 = t.id === 'homeostat' ? threadCpuSeconds(hPid) : undefined
        const cpu0 = cpuSeconds(t.pid)
        const r = await load(t.url, t.request, { connections: CONNECTIONS, seconds: perRound, warmupSeconds: 0 })
        t.rounds.push({ ...r, cpuUsPerReq: r.requests ? ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.requests : 0 })
        if (threads0)
          for (const [name, seconds] of threadCpuSeconds(hPid))
            byThread.set(name, (byThread.get(name) ?? 0) + seconds - (threads0.get(name) ?? 0))
        if (r.errors + r.non2xx > r.requests * 0.01 || r.requests === 0)
          failed.push(
            `${t.name} intake (${w.id}, round ${round + 1}): ${r.errors} errors, ${r.non2xx} non-2xx of ${r.requests}`,
          )
      }
      log(
        `  alerts intake (${w.id}) round ${round + 1}: ${targets.map((t) => `${t.id} ${fmt(t.rounds.at(-1)!.rps * ALERTS_PER_REQUEST)}`).join(', ')} alerts/s`,
      )
    }
    const rss = new Map(targets.map((t) => [t.id, rssMb(t.pid)]))
    const fig = (t: Target) => ({
      aps: median(t.rounds.map((r) => r.rps)) * ALERTS_PER_REQUEST,
      p99: median(t.rounds.map((r) => r.p99)),
      cpu: median(t.rounds.map((r) => r.cpuUsPerReq)) / ALERTS_PER_REQUEST,
    })
    const hs = targets.find((t) => t.id === 'homeostat')!
    const amT = targets.find((t) => t.id === 'alertmanager')
    const h = fig(hs)
    const rows: string[][] = []
    const label = `POST /api/v2/alerts, ${ALERTS_PER_REQUEST} alerts/req, ${CONNECTIONS} conn${suffix ? ` (${w.note})` : ''}`
    if (amT) {
      const a = fig(amT)
      rows.push([`Alertmanager 0.25 ${label} alerts/s`, fmt(a.aps), '—', 'baseline', ''])
      rows.push([`Alertmanager 0.25 ${label} p99`, `${fmt(a.p99, 1)} ms`, '—', '', ''])
      rows.push([`Alertmanager 0.25 server CPU/alert${suffix}`, `${fmt(a.cpu, 1)} µs`, '—', '', ''])
      rows.push([`Alertmanager 0.25 RSS after intake${suffix}`, `${fmt(rss.get('alertmanager')!, 1)} MB`, '—', '', ''])
      const byRound = (pick: (r: Round) => number) =>
        median(hs.rounds.map((r, i) => pick(r) / Math.max(pick(amT.rounds[i]!), 1e-9)))
      const apsRatio = byRound((r) => r.rps)
      const p99Ratio = byRound((r) => r.p99)
      rows.push([
        `Homeostat ${label} alerts/s`,
        fmt(h.aps),
        '≥ 1× alertmanager',
        `${apsRatio.toFixed(2)}×`,
        verdict(apsRatio >= 1),
      ])
      rows.push([
        `Homeostat ${label} p99`,
        `${fmt(h.p99, 1)} ms`,
        '< alertmanager',
        `${p99Ratio.toFixed(2)}×`,
        verdict(p99Ratio < 1),
      ])
      rows.push([
        `Homeostat server CPU/alert${suffix}`,
        `${fmt(h.cpu, 1)} µs`,
        '—',
        `${(h.cpu / Math.max(a.cpu, 1e-9)).toFixed(2)}×`,
        '',
      ])
    } else {
      rows.push([`Homeostat ${label} alerts/s`, fmt(h.aps), '≥ 1× alertmanager', '', 'n/a'])
      rows.push([`Homeostat ${label} p99`, `${fmt(h.p99, 1)} ms`, '< alertmanager', '', 'n/a'])
      rows.push([`Homeostat server CPU/alert${suffix}`, `${fmt(h.cpu, 1)} µs`, '—', '', ''])
    }
    const alerts = hs.rounds.reduce((n, r) => n + r.requests, 0) * ALERTS_PER_REQUEST
    if (alerts && byThread.size)
      rows.push([`Homeostat server CPU/alert by thread${suffix}`, threadSplit(byThread, alerts), '—', '', ''])
    const hRss = rss.get('homeostat')!
    rows.push([
      `Homeostat RSS after intake${suffix}`,
      `${fmt(hRss, 1)} MB`,
      `< ${INTAKE_RSS_MAX_MB} MB`,
      '',
      verdict(hRss < INTAKE_RSS_MAX_MB),
    ])
    return rows
  } finally {
    await am?.stop()
    await server.stop()
  }
}

// --- 3. rule evaluation ---------------------------------------------------------------------------

type EvalOut = {
  points: number
  seedSeconds: number
  rules: number
  series: number
  firing: number
  cycles: { seconds: number; changes: number; failed: number }[]
  readSeconds: number
}

function evaluationFigures(dir: string, base: Env, log: (line: string) => void, failed: string[]): string[][] {
  const env = envFor(dir, base, 'alerts-eval')
  mkdirSync(env.DATA_DIR!, { recursive: true })
  const out = JSON.parse(
    runCommand(BUN, ['tests/bench/alerts-eval.ts'], { ...START.env, ...env }, 10 * 60_000)
      .split('\n')
      .at(-1)!,
  ) as EvalOut
  const [first, ...steady] = out.cycles
  const failures = out.cycles.reduce((n, c) => n + c.failed, 0)
  if (failures) failed.push(`rule evaluation: ${failures} rule evaluations failed`)
  log(
    `  alerts: ${fmt(out.rules)} rules over ${fmt(out.series)} series (${fmt(out.points)} points): cycles ${out.cycles.map((c) => `${fmt(c.seconds, 2)} s`).join(', ')}; ${fmt(out.firing)} alerts firing`,
  )
  return [
    [
      `rule evaluation, ${fmt(out.rules)} rules / ${fmt(out.series)} series, per cycle`,
      `${fmt(median(steady.map((c) => c.seconds)), 2)} s`,
      '—',
      '',
      '',
    ],
    [`  first cycle (creates ${fmt(first!.changes)} alerts)`, `${fmt(first!.seconds, 2)} s`, '—', '', ''],
    ['  of which reading and computing the rules', `${fmt(out.readSeconds, 2)} s`, '—', '', ''],
  ]
}

/** Every alert figure, one part after the other. */
export async function alertFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  log(`alerts: breach → delivery (${TRIALS} trials), intake vs Alertmanager, rule evaluation`)
  if (PARTS.has('delivery')) rows.push(...(await deliveryFigures(dir, base, log)))
  if (PARTS.has('intake')) rows.push(...(await intakeFigures(dir, base, log, failed)))
  if (PARTS.has('eval')) rows.push(...evaluationFigures(dir, base, log, failed))
  return { rows, failed }
}
