/**
 * k6 load test of the liveness probe. Probes are exempt from the per-IP rate limit.
 *
 *   k6 run -e BASE_URL=http://localhost:8787 tests/load/health.ts
 *
 * Env: BASE_URL (default http://localhost:8787), VUS (default 20), DURATION (default 30s),
 * P99_MS (p99 threshold, default 50).
 */
import { check } from 'k6'
import http from 'k6/http'
import type { Options } from 'k6/options'

const BASE_URL = (__ENV.BASE_URL ?? 'http://localhost:8787').replace(/\/+$/, '')

export const options: Options = {
  vus: Number(__ENV.VUS ?? 20),
  duration: __ENV.DURATION ?? '30s',
  thresholds: {
    http_req_duration: [`p(99)<${Number(__ENV.P99_MS ?? 50)}`],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
}

export default function () {
  const res = http.get(`${BASE_URL}/health`, { tags: { name: 'GET /health' } })
  check(res, {
    'status is 200': (r) => r.status === 200,
    'status ok': (r) => r.status === 200 && r.json('status') === 'ok',
  })
}
