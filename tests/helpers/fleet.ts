/**
 * The fleet mix (tests/load/mix.json) on Node: what the k6 script (tests/load/fleet.ts) does, for
 * the benchmark (tests/bench/load.ts) and the suite (tests/e2e/fleet-load.test.ts). `setupFleet`
 * creates what the mix needs through the API; `requestOf` builds one request of a kind; `driveMix`
 * sends the mix with autocannon at a fixed overall rate and counts, per kind, statuses and latencies.
 * Only loopback targets: the caller starts the server.
 */
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

import type { Mix, Stage } from '../load/mix-types.ts'

export const MIX: Mix = JSON.parse(readFileSync(new URL('../load/mix.json', import.meta.url), 'utf8'))

/** What the setup made: the credentials and names the requests use. */
export type Fleet = {
  ingestKeys: string[]
  readerKeys: string[]
  n8nKeys: string[]
  pushTokens: string[]
  cookies: string[]
  routes: string[]
  prompts: string[]
}

// A kind's answers that are not errors: reads with a known ETag answer 304.
const OK: Record<string, number[]> = { 'model-route': [200, 304], prompt: [200, 304] }
export const isOk = (kind: string, status: number) => (OK[kind] ?? [200]).includes(status)

export const PROMPT_TEMPLATE = 'You are the support agent of {{company}}.\nAnswer {{customer}} in a friendly tone.'
const PASSWORD = 'load-test-password-long-enough'

async function call(base: string, key: string, method: string, path: string, body: unknown, expect: number) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).catch((error: Error) => {
    throw new Error(`setup: ${method} ${path} failed: ${error.message} (${String(error.cause ?? '')})`)
  })
  const text = await res.text()
  if (res.status !== expect) throw new Error(`setup: ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`)
  return JSON.parse(text) as Record<string, unknown>
}

/**
 * Creates, as the admin whose API key is given, every key, push component, model route, prompt and
 * user the mix uses, each named `load-…` with a suffix of this run (so a second run on the same
 * database makes its own). `modelHosts` are the route targets' hosts (probes are the server's
 * business: the bench and the suite start it with MODEL_ROUTE_PROBE_INTERVAL_SECONDS=0).
 */
export async function setupFleet(
  base: string,
  adminKey: string,
  opts: { mix?: Mix; modelHosts?: [string, string] } = {},
): Promise<Fleet> {
  const { fleet } = opts.mix ?? MIX
  const [hostA, hostB] = opts.modelHosts ?? ['http://127.0.0.1:11434', 'http://127.0.0.1:11435']
  const run = Date.now().toString(36)
  const key = async (name: string, scopes: string[]) =>
    (await call(base, adminKey, 'POST', '/api/v1/keys', { name, role: 'viewer', scopes }, 201)).key as string
  const times = (n: number) => Array.from({ length: n }, (_, i) => i)

  const ingestKeys = await Promise.all(times(fleet.ingestKeys).map((i) => key(`load-ingest-${i}-${run}`, ['ingest'])))
  const n8nKeys = await Promise.all(times(fleet.n8nKeys).map((i) => key(`load-n8n-${i}-${run}`, ['ingest'])))
  const readerKeys = await Promise.all(times(fleet.readerKeys).map((i) => key(`load-reader-${i}-${run}`, ['routes'])))
  const pushTokens = await Promise.all(
    times(fleet.pushComponents).map(async (i) => {
      const c = await call(
        base,
        adminKey,
        'POST',
        '/api/v1/components',
        {
          name: `load-agent-${i}-${run}`,
          kind: 'agent',
          push: { expectedIntervalSeconds: fleet.heartbeatSeconds, graceSeconds: fleet.heartbeatSeconds * 2 },
        },
        201,
      )
      return (c.push as { token: string }).token
    }),
  )
  const routes = fleet.modelRoutes.map((r) => `${r}-${run}`)
  for (const name of routes)
    await call(
      base,
      adminKey,
      'POST',
      '/api/v1/model-routes',
      {
        name,
        targets: [
          { model: 'llama3:8b', host: hostA },
          { model: 'mistral:7b', host: hostB },
        ],
      },
      201,
    )
  const prompts = fleet.prompts.map((p) => `${p}-${run}`)
  for (const name of prompts) {
    await call(base, adminKey, 'POST', '/api/v1/prompts', { name }, 201)
    await call(
      base,
      adminKey,
      'POST',
      `/api/v1/prompts/${name}/versions`,
      { template: PROMPT_TEMPLATE, variables: ['company', 'customer'], label: 'production' },
      201,
    )
  }
  const cookies: string[] = []
  for (const i of times(fleet.users)) {
    const email = `load-${i}-${run}@example.com`
    await call(base, adminKey, 'POST', '/api/v1/users', { email, role: 'viewer', password: PASSWORD }, 201)
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ email, password: PASSWORD }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    })
    await res.arrayBuffer()
    const cookie = res.headers.get('set-cookie')?.match(/hs_session=([^;]+)/)?.[1]
    if (!cookie) throw new Error(`setup: signing in ${email} answered ${res.status} without a session cookie`)
    cookies.push(`hs_session=${cookie}`)
  }
  return { ingestKeys, readerKeys, n8nKeys, pushTokens, cookies, routes, prompts }
}

export type Built = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string }

const PAGES = ['/alerts', '/components', '/healing']
const FRAGMENTS = ['/alerts/list', '/overview/components?range=24h', '/healing/live']

/**
 * Request number `n` of `kind`: `n` spreads the requests over the keys, tokens, series and label
 * sets the way a fleet's many agents would. `etags` holds the last ETag seen per read path.
 */
export function requestOf(kind: string, n: number, fleet: Fleet, etags: Map<string, string>, mix = MIX): Built {
  const f = mix.fleet
  const pick = <T>(list: T[]) => list[n % list.length]!
  const json = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })
  const agent = `agent-${n % f.metricSeries}`
  const now = Date.now()
  switch (kind) {
    case 'metrics-single':
      return {
        method: 'POST',
        path: '/api/v1/metrics',
        headers: json(pick(fleet.ingestKeys)),
        body: JSON.stringify({ name: 'load_agent_latency_seconds', value: (n % 97) / 100, labels: { agent } }),
      }
    case 'metrics-batch':
      return {
        method: 'POST',
        path: '/api/v1/metrics',
        headers: json(pick(fleet.ingestKeys)),
        body: JSON.stringify({
          points: Array.from({ length: f.batchPoints }, (_, j) => ({
            name: `load_agent_metric_${j % 10}`,
            value: n + j,
            labels: { agent, part: String(Math.floor(j / 10)) },
            ts: now,
          })),
        }),
      }
    case 'heartbeat':
      return {
        method: 'GET',
        path: `/api/v1/push/${pick(fleet.pushTokens)}?status=up&ping=${10 + (n % 40)}`,
        headers: {},
      }
    case 'alerts-v2': {
      const alerts = Array.from({ length: f.alertsPerPost }, (_, j) => ({
        labels: {
          alertname: 'LoadHighLatency',
          job: 'load',
          severity: 'warning',
          instance: `host-${(n * f.alertsPerPost + j) % f.alertLabelSets}`,
        },
        annotations: { summary: 'p95 latency over 2 s' },
        startsAt: new Date(now - 60_000).toISOString(),
        endsAt: new Date(now + 5 * 60_000).toISOString(),
        generatorURL: 'http://prometheus.example/graph',
      }))
      return {
        method: 'POST',
        path: '/api/v2/alerts',
        headers: json(pick(fleet.ingestKeys)),
        body: JSON.stringify(alerts),
      }
    }
    case 'model-route':
    case 'prompt': {
      const path =
        kind === 'prompt' ? `/api/v1/prompts/${pick(fleet.prompts)}` : `/api/v1/model-routes/${pick(fleet.routes)}`
      const etag = etags.get(path)
      return {
        method: 'GET',
        path,
        headers: { authorization: `Bearer ${pick(fleet.readerKeys)}`, ...(etag ? { 'if-none-match': etag } : {}) },
      }
    }
    case 'n8n-metrics':
      return {
        method: 'POST',
        path: '/api/v1/metrics',
        headers: json(pick(fleet.n8nKeys)),
        body: JSON.stringify({
          points: Array.from({ length: f.n8nPoints }, (_, j) => ({
            name: 'n8n_node_duration_seconds',
            value: (n % 50) / 10,
            labels: { workflow: `wf-${n % 20}`, node: `node-${j}` },
            ts: now,
          })),
        }),
      }
    case 'dashboard-page':
      return { method: 'GET', path: pick(PAGES), headers: { cookie: pick(fleet.cookies), accept: 'text/html' } }
    case 'dashboard-fragment':
      return { method: 'GET', path: pick(FRAGMENTS), headers: { cookie: pick(fleet.cookies), 'hx-request': 'true' } }
    default:
      throw new Error(`unknown request kind ${kind}`)
  }
}

/**
 * The kinds in the mix's proportions, spread evenly (smooth weighted round robin): any stretch of
 * 100 requests holds each kind by its weight, so even a short run exercises every kind.
 */
export function kindSequence(mix = MIX) {
  const current = new Map(mix.kinds.map((k) => [k.id, 0]))
  const total = mix.kinds.reduce((s, k) => s + k.weight, 0)
  return () => {
    let best = mix.kinds[0]!
    for (const k of mix.kinds) {
      current.set(k.id, current.get(k.id)! + k.weight)
      if (current.get(k.id)! > current.get(best.id)!) best = k
    }
    current.set(best.id, current.get(best.id)! - total)
    return best.id
  }
}

/** autocannon without a callback: its runtime answer is both the event emitter and a promise of the result. */
export const cannon = (o: autocannon.Options) =>
  autocannon(o) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>

export type KindStats = { count: number; errors: number; statuses: Record<string, number>; latencies: number[] }
export type MixRun = { kinds: Map<string, KindStats>; seconds: number; socketErrors: number; firstErrors: string[] }

export const newRun = (mix = MIX): MixRun => ({
  kinds: new Map(mix.kinds.map((k) => [k.id, { count: 0, errors: 0, statuses: {}, latencies: [] }])),
  seconds: 0,
  socketErrors: 0,
  firstErrors: [],
})

/** Adds `from`'s counts, statuses and latencies to `into` (runs of the same mix). */
export function mergeRun(into: MixRun, from: MixRun) {
  into.seconds += from.seconds
  into.socketErrors += from.socketErrors
  into.firstErrors.push(...from.firstErrors.slice(0, Math.max(0, 10 - into.firstErrors.length)))
  for (const [id, k] of from.kinds) {
    const t = into.kinds.get(id)!
    t.count += k.count
    t.errors += k.errors
    for (const [s, n] of Object.entries(k.statuses)) t.statuses[s] = (t.statuses[s] ?? 0) + n
    for (const l of k.latencies) t.latencies.push(l)
  }
}

/** The stages with each ramp cut into 2-second steps from the rate before it. */
export function steps(stages: Stage[]): { rate: number; seconds: number }[] {
  const out: { rate: number; seconds: number }[] = []
  let prev = stages[0]?.rate ?? 0
  for (const s of stages) {
    if (!s.ramp) out.push({ rate: s.rate, seconds: s.seconds })
    else {
      const n = Math.max(1, Math.round(s.seconds / 2))
      for (let i = 1; i <= n; i++)
        out.push({ rate: Math.round(prev + ((s.rate - prev) * i) / n), seconds: s.seconds / n })
    }
    prev = s.rate
  }
  return out
}

/**
 * Sends the mix to `base` at `rate` requests a second overall for `seconds` (autocannon, one request
 * in flight per connection), adding to `into`. Each kind's answers are checked against the statuses
 * it may have; a socket error or timeout counts as an error of the kind that was in flight.
 */
export async function driveMix(
  base: string,
  fleet: Fleet,
  opts: { rate: number; seconds: number; connections?: number; into?: MixRun; mix?: Mix; next?: () => string },
): Promise<MixRun> {
  const mix = opts.mix ?? MIX
  const run = opts.into ?? newRun(mix)
  const next = opts.next ?? kindSequence(mix)
  const etags = new Map<string, string>()
  let n = 0
  type Ctx = { kind?: string; path?: string }
  const instance = cannon({
    url: base,
    // One request in flight per connection: enough of them that a slow answer does not hold the rate
    // back (a quarter of a second of requests at the rate).
    connections: opts.connections ?? Math.min(500, Math.max(10, Math.ceil(opts.rate / 4))),
    // rate 0: no cap, each connection sends as soon as its answer is back (saturation).
    ...(opts.rate > 0 ? { overallRate: opts.rate } : {}),
    duration: opts.seconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (req: autocannon.Request, context: Ctx) => {
          const kind = next()
          const r = requestOf(kind, n++, fleet, etags, mix)
          context.kind = kind
          context.path = r.path
          return { ...req, method: r.method, path: r.path, headers: r.headers, body: r.body ?? '' }
        },
        onResponse: (
          status: number,
          _body: string,
          context: Ctx,
          headers?: Record<string, string | string[] | undefined>,
        ) => {
          const etag = headers?.etag ?? headers?.ETag ?? headers?.Etag
          if (status === 200 && context.path && typeof etag === 'string') etags.set(context.path, etag)
        },
      },
    ],
  })
  // Which kind a connection has in flight: autocannon keeps the request's context on its iterator.
  const kindOf = (client: unknown) =>
    (client as { requestIterator?: { context?: Ctx } }).requestIterator?.context?.kind ?? 'unknown'
  // At run time 'response' also passes the client (the types omit it); a socket error or timeout
  // ('reqError') names no client, so it counts for the run, not for a kind.
  const events = instance as unknown as NodeJS.EventEmitter
  events.on('response', (client: unknown, status: number, _bytes: number, ms: number) => {
    const kind = kindOf(client)
    const k = run.kinds.get(kind)
    if (!k) return
    k.count++
    k.statuses[status] = (k.statuses[status] ?? 0) + 1
    k.latencies.push(ms)
    if (!isOk(kind, status)) {
      k.errors++
      if (run.firstErrors.length < 10) run.firstErrors.push(`${kind}: status ${status}`)
    }
  })
  events.on('reqError', (error: Error) => {
    run.socketErrors++
    if (run.firstErrors.length < 10) run.firstErrors.push(`socket: ${error.message}`)
  })
  await instance
  run.seconds += opts.seconds
  return run
}

/** The q-quantile (nearest rank) of unsorted numbers; 0 for none. */
export function quantile(xs: number[], q: number) {
  if (!xs.length) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

/** Totals over the API kinds (the thresholds' "API calls") or all kinds. */
export function summary(run: MixRun, mix = MIX, apiOnly = true) {
  const kinds = mix.kinds.filter((k) => !apiOnly || k.api).map((k) => run.kinds.get(k.id)!)
  // Socket errors and timeouts name no kind: they count against every total.
  const count = kinds.reduce((s, k) => s + k.count, 0) + run.socketErrors
  const errors = kinds.reduce((s, k) => s + k.errors, 0) + run.socketErrors
  const latencies = kinds.flatMap((k) => k.latencies)
  return {
    count,
    errors,
    errorRate: count ? errors / count : 0,
    p95: quantile(latencies, 0.95),
    p99: quantile(latencies, 0.99),
    rps: run.seconds ? count / run.seconds : 0,
  }
}
