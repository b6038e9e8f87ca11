/**
 * k6 load test of the agents' hot path: GET /api/v1/model-routes/:name, the way an agent reads it —
 * remember the ETag and send it back in If-None-Match, so an unchanged route answers 304 with no
 * body; a 200 (new ETag) means the route or a target's breaker changed.
 *
 *   k6 run -e BASE_URL=http://localhost:8787 -e HOMEOSTAT_KEY=hs_… -e ROUTE=chat tests/load/model-route.ts
 *
 * The route must exist (POST /api/v1/model-routes as an operator). Viewers and keys with the `routes`
 * scope may read it (ingest keys may not). Per-key and per-IP rate limits apply as for whoami.ts; raise them to push harder.
 *
 * Env: BASE_URL (default http://localhost:8787), HOMEOSTAT_KEY (required), ROUTE (default chat),
 * RATE (requests per second, default 40), DURATION (default 30s), VUS (default 20), P99_MS (p99
 * threshold, default 50).
 */
import { check } from 'k6'
import http from 'k6/http'
import { abortUnlessKeyReads, arrivalRateOptions, BASE_URL, KEY } from './lib.ts'

const ROUTE = encodeURIComponent(__ENV.ROUTE ?? 'chat')

export const options = arrivalRateOptions('route')

export function setup() {
  abortUnlessKeyReads(`/api/v1/model-routes/${ROUTE}`, 'model-route.ts')
}

// Each VU keeps the last ETag it saw, as an agent would.
let etag = ''

export default function () {
  const headers: Record<string, string> = { Authorization: `Bearer ${KEY}` }
  if (etag) headers['If-None-Match'] = etag
  const res = http.get(`${BASE_URL}/api/v1/model-routes/${ROUTE}`, {
    headers,
    tags: { name: 'GET /api/v1/model-routes/:name' },
    responseCallback: http.expectedStatuses(200, 304),
  })
  check(res, {
    'status is 200 or 304': (r) => r.status === 200 || r.status === 304,
    'carries an ETag': (r) => Boolean(r.headers.Etag ?? r.headers.ETag),
    'a 200 names the active target': (r) => r.status !== 200 || typeof r.json('active.host') === 'string',
  })
  etag = res.headers.Etag ?? res.headers.ETag ?? etag
}
