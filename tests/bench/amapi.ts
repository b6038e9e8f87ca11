/**
 * The Alertmanager API's figures (`BENCH_ONLY=amapi`): what karma, Grafana and amtool wait for when
 * they poll. AMAPI_ALERTS open alerts (default 1,000: 50 alert names × hosts, two envs) and 10
 * silences are given to a Homeostat (Bun, empty DB) through its own `POST /api/v2/alerts` and
 * `POST /api/v2/silences`, and the same to a real Alertmanager 0.25 beside it (when
 * /usr/bin/prometheus-alertmanager exists). Then, one request at a time as those tools send them,
 * `GET /api/v2/alerts`, `/api/v2/alerts/groups` and `/api/v2/silences` on each, in interleaved rounds:
 * p50 and p95 per route, and Homeostat's p50 as a ratio to Alertmanager's. No target in the issue;
 * the figure says how far from Alertmanager's own read Homeostat's mapped read is.
 * Returns table rows and what failed to run; asserts nothing.
 */
import { startAlertmanager } from './alerts.ts'
import { existsSync } from 'node:fs'
import { apiCall, benchKey, type Env, envFor, fmt, median, sequentialLatency, startHomeostat } from './lib.ts'

const ALERTS = Number(process.env.AMAPI_ALERTS ?? 1000)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const ALERTMANAGER = '/usr/bin/prometheus-alertmanager'
const HOUR = 3_600_000

const alertsOf = (from: number, to: number, endsAt: string) =>
  Array.from({ length: to - from }, (_, k) => {
    const i = from + k
    return {
      labels: {
        alertname: `BenchAlert${i % 50}`,
        instance: `host-${i}:9100`,
        env: i % 2 ? 'prod' : 'stage',
        severity: i % 5 ? 'warning' : 'critical',
      },
      annotations: { summary: `Bench alert ${i}` },
      endsAt,
    }
  })

const silenceOf = (k: number) => ({
  matchers: [{ name: 'instance', value: `host-${k * 7}:9100`, isRegex: false, isEqual: true }],
  startsAt: new Date().toISOString(),
  endsAt: new Date(Date.now() + HOUR).toISOString(),
  createdBy: 'bench',
  comment: `bench silence ${k}`,
})

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 300)}`)
}

type Side = { name: string; url: string; headers: Record<string, string> }

export async function amapiFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const env = envFor(dir, base, 'amapi')
  const homeostat = await startHomeostat('homeostat (alertmanager api)', env)
  const am = existsSync(ALERTMANAGER) ? await startAlertmanager(dir, 'amapi-alertmanager') : undefined
  if (!am) log(`  amapi: ${ALERTMANAGER} not installed (apt-get install prometheus-alertmanager): Homeostat only`)
  try {
    const operator = benchKey(env, 'operator')
    const viewer = benchKey(env, 'viewer')
    const sides: Side[] = [
      { name: 'Homeostat', url: homeostat.url, headers: { authorization: `Bearer ${viewer}` } },
      ...(am ? [{ name: 'Alertmanager', url: am.url, headers: {} }] : []),
    ]
    const endsAt = new Date(Date.now() + HOUR).toISOString()
    for (let i = 0; i < ALERTS; i += 100) {
      const batch = alertsOf(i, Math.min(ALERTS, i + 100), endsAt)
      await post(`${homeostat.url}/api/v2/alerts`, batch, { authorization: `Bearer ${operator}` })
      if (am) await post(`${am.url}/api/v2/alerts`, batch, {})
    }
    for (let k = 0; k < 10; k++) {
      await apiCall(`${homeostat.url}/api/v2/silences`, operator, 'POST', silenceOf(k), 200)
      if (am) await post(`${am.url}/api/v2/silences`, silenceOf(k), {})
    }
    const routes = ['/api/v2/alerts', '/api/v2/alerts/groups', '/api/v2/silences']
    const p50s = new Map<string, number[]>()
    const p95s = new Map<string, number[]>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const path of routes)
        for (const side of sides) {
          const once = async () => {
            const res = await fetch(side.url + path, { headers: side.headers })
            await res.arrayBuffer()
            if (res.status !== 200) throw new Error(`${side.name} ${path}: ${res.status}`)
          }
          const r = await sequentialLatency(once, { count: 40, maxMs: 8000 })
          const id = `${side.name} ${path}`
          p50s.set(id, [...(p50s.get(id) ?? []), r.p50])
          p95s.set(id, [...(p95s.get(id) ?? []), r.p95])
        }
      log(`  amapi round ${round + 1}: ${[...p50s].map(([id, xs]) => `${id} ${fmt(xs.at(-1)!, 1)}`).join(', ')} ms`)
    }
    const rows: string[][] = []
    for (const path of routes) {
      const ours = median(p50s.get(`Homeostat ${path}`)!)
      const theirs = am ? median(p50s.get(`Alertmanager ${path}`)!) : undefined
      const label = `GET ${path} (${fmt(ALERTS)} alerts, 10 silences), one at a time`
      rows.push([
        `${label}: p50 / p95`,
        `${fmt(ours, 1)} / ${fmt(median(p95s.get(`Homeostat ${path}`)!), 1)} ms`,
        '—',
        theirs ? `${fmt(ours / theirs, 2)}× Alertmanager (${fmt(theirs, 1)} ms)` : 'no Alertmanager',
        '',
      ])
    }
    return { rows, failed }
  } catch (error) {
    failed.push(`amapi: ${(error as Error).message}`)
    return { rows: [], failed }
  } finally {
    await am?.stop()
    await homeostat.stop()
  }
}
