/**
 * k6 load test of an authenticated API call: GET /api/v1/whoami with an API key.
 *
 *   k6 run -e BASE_URL=http://localhost:8787 -e HOMEOSTAT_KEY=hs_… tests/load/whoami.ts
 *
 * The server limits each key to RATE_LIMIT_PER_SECOND (default 50/s, burst RATE_LIMIT_BURST) and
 * each client IP to IP_RATE_LIMIT_PER_SECOND (default 100/s); 429s count as failed requests. The
 * default RATE stays under those limits; to push harder, raise them on the server first.
 *
 * Env: BASE_URL (default http://localhost:8787), HOMEOSTAT_KEY (required; `npm run cli -- keys
 * create --name load --role viewer`), RATE (requests per second, default 40), DURATION (default
 * 30s), VUS (pre-allocated VUs, default 20), P99_MS (p99 threshold, default 50).
 */
import { check } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import type { Options } from 'k6/options'

const BASE_URL = (__ENV.BASE_URL ?? 'http://localhost:8787').replace(/\/+$/, '')
const KEY = __ENV.HOMEOSTAT_KEY ?? ''

export const options: Options = {
  scenarios: {
    whoami: {
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
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
}

export function setup() {
  if (!KEY) exec.test.abort('Set HOMEOSTAT_KEY to an API key: k6 run -e HOMEOSTAT_KEY=hs_… tests/load/whoami.ts')
  const res = http.get(`${BASE_URL}/api/v1/whoami`, { headers: { Authorization: `Bearer ${KEY}` } })
  if (res.status !== 200) exec.test.abort(`GET /api/v1/whoami answered ${res.status}: ${String(res.body).slice(0, 200)}`)
}

export default function () {
  const res = http.get(`${BASE_URL}/api/v1/whoami`, { headers: { Authorization: `Bearer ${KEY}` }, tags: { name: 'GET /api/v1/whoami' } })
  check(res, {
    'status is 200': (r) => r.status === 200,
    'called with a key': (r) => r.status === 200 && r.json('kind') === 'api_key',
  })
}
