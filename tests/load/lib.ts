/** What the API-key k6 scripts share: where the server is, the key, and a constant-arrival-rate run. */
import exec from 'k6/execution'
import http from 'k6/http'
import type { Options } from 'k6/options'

export const BASE_URL = (__ENV.BASE_URL ?? 'http://localhost:8787').replace(/\/+$/, '')
export const KEY = __ENV.HOMEOSTAT_KEY ?? ''

/**
 * RATE requests a second (default 40) for DURATION (default 30s) from VUS pre-allocated VUs
 * (default 20, up to five times as many). The run fails when p99 is over P99_MS (default 50) or
 * more than 1 % of checks fail, and on any of `thresholds`.
 */
export function arrivalRateOptions(scenario: string, thresholds: Options['thresholds'] = {}): Options {
  return {
    scenarios: {
      [scenario]: {
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
      ...thresholds,
      checks: ['rate>0.99'],
    },
  }
}

/** For `setup()`: stops the run unless HOMEOSTAT_KEY is set and `GET path` with it answers 200. */
export function abortUnlessKeyReads(path: string, script: string) {
  if (!KEY) exec.test.abort(`Set HOMEOSTAT_KEY to an API key: k6 run -e HOMEOSTAT_KEY=hs_… tests/load/${script}`)
  const res = http.get(`${BASE_URL}${path}`, { headers: { Authorization: `Bearer ${KEY}` } })
  if (res.status !== 200) exec.test.abort(`GET ${path} answered ${res.status}: ${String(res.body).slice(0, 200)}`)
}
