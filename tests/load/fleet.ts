/**
 * k6 load test of a whole fleet (issue 24): agents pushing single points and batches, Uptime-Kuma-style
 * heartbeats, Prometheus's alert intake (/api/v2/alerts), model-route and prompt reads with
 * If-None-Match, the n8n Metrics Record node, and people on the dashboard (signed-in pages and HTMX
 * fragments), mixed in the proportions of mix.json. docs/load-testing.md says how to run it.
 *
 *   ADMIN_KEY=$(npm run --silent cli -- keys create --name load-setup --role admin)
 *   k6 run -e BASE_URL=http://localhost:8787 -e ADMIN_KEY=$ADMIN_KEY -e SCENARIO=sustained tests/load/fleet.ts
 *
 * Env: BASE_URL (default http://localhost:8787); ADMIN_KEY (required: setup() creates the mix's keys,
 * push components, model routes, prompts and users with it); SCENARIO = sustained (500 req/s for
 * 5 min) | spike (500 → 2,000 req/s within 10 s, held 30 s, back) | soak (200 req/s for 1 h);
 * FORM = full (default) | short (the bench's scaled-down rates); RATE_SCALE (multiplies every rate,
 * default 1); MODEL_HOST_A / MODEL_HOST_B (the created routes' targets; default 127.0.0.1:11434/11435).
 *
 * Thresholds (the run fails when one is crossed), on the API kinds (tag api:yes): failed requests
 * < 0.1 %, p95 < 50 ms, p99 < 200 ms; every check > 99.9 %; the soak: server RSS (its own
 * process_resident_memory_bytes from /metrics, every 10 s) grows < 20 MB after the warm-up.
 */
import { check } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Gauge } from 'k6/metrics'
import type { Options } from 'k6/options'
import { BASE_URL, type Fleet, kindCycle, MIX, requestOf, setupFleet } from './fleet-mix.ts'
import { isScenario, SCENARIO_NAMES } from './mix-types.ts'

const SCENARIO = __ENV.SCENARIO ?? 'sustained'
const FORM = __ENV.FORM === 'short' ? 'short' : 'full'
const SCALE = Number(__ENV.RATE_SCALE ?? 1)
if (!isScenario(SCENARIO)) throw new Error(`SCENARIO must be one of ${SCENARIO_NAMES.join(', ')}, not ${SCENARIO}`)
const chosen = MIX.scenarios[SCENARIO]
const form = chosen[FORM]
const T = MIX.thresholds
const API = new Set(MIX.kinds.filter((k) => k.api).map((k) => k.id))

// mix.json's stages as k6 ramping-arrival-rate stages: a ramp moves linearly over its seconds; a
// level stage jumps in 1 s and holds.
const rate = (r: number) => Math.max(1, Math.round(r * SCALE))
const stages = form.stages.flatMap((s) =>
  s.ramp
    ? [{ target: rate(s.rate), duration: `${s.seconds}s` }]
    : [
        { target: rate(s.rate), duration: '1s' },
        { target: rate(s.rate), duration: `${Math.max(1, s.seconds - 1)}s` },
      ],
)
const peak = Math.max(...form.stages.map((s) => rate(s.rate)))
const totalSeconds = form.stages.reduce((n, s) => n + s.seconds, 0)

export const options: Options = {
  setupTimeout: '120s',
  scenarios: {
    fleet: {
      executor: 'ramping-arrival-rate',
      startRate: rate(form.stages[0]!.rate),
      timeUnit: '1s',
      stages,
      // A tenth of a second of requests in flight at the peak, up to half a second's worth.
      preAllocatedVUs: Math.max(20, Math.ceil(peak / 10)),
      maxVUs: Math.max(50, Math.ceil(peak / 2)),
    },
    rss: {
      executor: 'constant-arrival-rate',
      exec: 'sampleRss',
      rate: 1,
      timeUnit: '10s',
      duration: `${totalSeconds}s`,
      preAllocatedVUs: 1,
      maxVUs: 1,
    },
  },
  thresholds: {
    'http_req_failed{api:yes}': [`rate<${T.errorRate}`],
    'http_req_duration{api:yes}': [`p(95)<${T.apiP95Ms}`, `p(99)<${T.apiP99Ms}`],
    checks: ['rate>0.999'],
    ...(SCENARIO === 'soak' ? { server_rss_growth_mb: [`value<${T.soakRssGrowthMb}`] } : {}),
  },
}

export function setup(): Fleet {
  const admin = __ENV.ADMIN_KEY
  if (!admin)
    exec.test.abort(
      'Set ADMIN_KEY to an admin API key: npm run --silent cli -- keys create --name load-setup --role admin',
    )
  return setupFleet(admin!)
}

const cycle = kindCycle()
// Each VU keeps the last ETag it saw per route and prompt, as an agent does.
const etags: Record<string, string> = {}

export default function (fleet: Fleet) {
  const n = exec.scenario.iterationInTest
  const kind = cycle[n % cycle.length]!
  const r = requestOf(kind, n, fleet, etags)
  const res = http.request(r.method, BASE_URL + r.path, r.body ?? null, {
    headers: r.headers,
    tags: { name: r.name, kind, api: API.has(kind) ? 'yes' : 'no' },
    responseCallback: http.expectedStatuses(...r.ok),
  })
  check(res, { [`${kind} answered ${r.ok.join(' or ')}`]: (x) => r.ok.includes(x.status) }, { kind })
  const etag = res.headers.Etag ?? res.headers.ETag
  if (res.status === 200 && etag) etags[r.path] = etag
}

const rssMb = new Gauge('server_rss_mb')
const rssGrowth = new Gauge('server_rss_growth_mb')
let firstAfterWarmup: number | undefined

/** The server's own RSS from its /metrics (a viewer key), every 10 s; growth from the first sample after warm-up. */
export function sampleRss(fleet: Fleet) {
  const res = http.get(`${BASE_URL}/metrics`, {
    headers: { Authorization: `Bearer ${fleet.metricsKey}` },
    tags: { name: 'GET /metrics (RSS sample)', api: 'no' },
  })
  const m = /^process_resident_memory_bytes(?:\{[^}]*\})? ([0-9.e+]+)$/m.exec(String(res.body))
  if (!m) return
  const mb = Number(m[1]) / 1024 / 1024
  rssMb.add(mb)
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000
  if (elapsed < (form.warmupSeconds ?? 0)) return
  firstAfterWarmup ??= mb
  rssGrowth.add(mb - firstAfterWarmup)
}
