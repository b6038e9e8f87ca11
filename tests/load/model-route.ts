/**
 * k6 load test of the agents' hot path: GET /api/v1/model-routes/:name, the way an agent reads it —
 * remember the ETag and send it back in If-None-Match, so an unchanged route answers 304 with no
 * body; a 200 (new ETag) means the route or a target's breaker changed.
 *
 *   k6 run -e BASE_URL=http://localhost:8787 -e HOMEOSTAT_KEY=hs_… -e ROUTE=chat tests/load/model-route.ts
 *
 * The route must exist (POST /api/v1/model-routes as an operator). Any key may read it, ingest-only
 * keys too. Per-key and per-IP rate limits apply as for whoami.ts; raise them to push harder.
 *
 * Env: BASE_URL (default http://localhost:8787), HOMEOSTAT_KEY (required), ROUTE (default chat),
 * RATE (requests per second, default 40), DURATION (default 30s), VUS (default 20), P99_MS (p99
 * threshold, default 50).
 */
import { check } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import type { Options } from 'k6/options'

const BASE_URL = (__ENV.BASE_URL ?? 'http://localhost:8787').replace(/\/+$/, '')
const KEY = __ENV.HOMEOSTAT_KEY ?? ''
const ROUTE = encodeURIComponent(__ENV.ROUTE ?? 'chat')

export const options: Options = {
  scenarios: {
    route: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE ?? 40),
      timeUnit: '1s',
      duration: __ENV.DURATION ?? '30s',
      preAllocatedVUs: Number(__ENV.VUS ?? 20),
      maxVUs: Number(__ENV.VUS ?? 20) * 5,
    },
  },
  thresholds: {
    http_req_duration: [`p(99)<${Number(__ENV.P99_MS ?? 50)}`],
    checks: ['rate>0.99'],
  },
}

export function setup() {
  if (!KEY) exec.test.abort('Set HOMEOSTAT_KEY to an API key: k6 run -e HOMEOSTAT_KEY=hs_… tests/load/model-route.ts')
  const res = http.get(`${BASE_URL}/api/v1/model-routes/${ROUTE}`, { headers: { Authorization: `Bearer ${KEY}` } })
  if (res.status !== 200) exec.test.abort(`GET /api/v1/model-routes/${ROUTE} answered ${res.status}: ${String(res.body).slice(0, 200)}`)
}

// Each VU keeps the last ETag it saw, as an agent would.
let etag = ''

export default function () {
  const headers: Record<string, string> = { Authorization: `Bearer ${KEY}` }
  if (etag) headers['If-None-Match'] = etag
  const res = http.get(`${BASE_URL}/api/v1/model-routes/${ROUTE}`, { headers, tags: { name: 'GET /api/v1/model-routes/:name' }, responseCallback: http.expectedStatuses(200, 304) })
  check(res, {
    'status is 200 or 304': (r) => r.status === 200 || r.status === 304,
    'carries an ETag': (r) => Boolean(r.headers.Etag ?? r.headers.ETag),
    'a 200 names the active target': (r) => r.status !== 200 || typeof r.json('active.host') === 'string',
  })
  etag = res.headers.Etag ?? res.headers.ETag ?? etag
}
