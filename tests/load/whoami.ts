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
import http from 'k6/http'
import { abortUnlessKeyReads, arrivalRateOptions, BASE_URL, KEY } from './lib.ts'

export const options = arrivalRateOptions('whoami', { http_req_failed: ['rate<0.01'] })

export function setup() {
  abortUnlessKeyReads('/api/v1/whoami', 'whoami.ts')
}

export default function () {
  const res = http.get(`${BASE_URL}/api/v1/whoami`, {
    headers: { Authorization: `Bearer ${KEY}` },
    tags: { name: 'GET /api/v1/whoami' },
  })
  check(res, {
    'status is 200': (r) => r.status === 200,
    'called with a key': (r) => r.status === 200 && r.json('kind') === 'api_key',
  })
}
