/**
 * A real Prometheus (Debian's 2.42) lists a real Homeostat server (Bun) under
 * `alerting.alertmanagers`, so it posts to Homeostat's `/api/v2/alerts` as it would to an
 * Alertmanager. Its rule watches a gauge on a local scrape target whose value the test sets: above 5
 * the alert fires in Homeostat (one alert however often Prometheus re-sends it), back below it resolves.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requirePrometheus, startPrometheus, type RunningPrometheus } from '../helpers/prometheus.ts'
import { cliKey as makeKey, killAll, startServer, until, type RunningServer } from '../helpers/server.ts'

const GAUGE = 'homeostat_e2e_value'
const RULE = 'HomeostatE2EValueHigh'

let server: RunningServer
let viewer: Record<string, string>
let target: Server
let targetPort: number
let value = 1
let prometheus: RunningPrometheus | undefined

const cliKey = (role: string, scopes: string[] = []) => makeKey(server, `prom-alerting-${role}`, role, scopes)

function serveTarget(): Promise<number> {
  target = createServer((req, res) => {
    if (req.url !== '/metrics') return res.writeHead(404).end()
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' })
    res.end(`# HELP ${GAUGE} A gauge the test controls\n# TYPE ${GAUGE} gauge\n${GAUGE}{disk="sda"} ${value}\n`)
  })
  return new Promise((resolve) =>
    target.listen(0, '127.0.0.1', () => resolve((target.address() as { port: number }).port)),
  )
}

type AlertOut = {
  id: string
  status: string
  severity: string
  title: string
  source: string
  repeatCount: number
  labels: Record<string, string>
  annotations: Record<string, string>
  events?: { type: string; actor: string }[]
}
const diagnostics = () => `\n--- prometheus\n${prometheus?.log().slice(-4000)}\n${server?.output().slice(-4000)}`
async function alerts(): Promise<AlertOut[]> {
  const res = await server.fetch('/api/v1/alerts?source=prometheus', { headers: viewer })
  if (res.status !== 200) throw new Error(`alerts: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { items: AlertOut[] }).items
}
/** Polls until `check` holds on the alert list (bounded), with both processes' logs on failure. */
const waitFor = (what: string, check: (list: AlertOut[]) => boolean, timeoutMs = 60_000) =>
  until(
    what,
    async () => {
      const list = await alerts()
      return check(list) ? list : undefined
    },
    timeoutMs,
    250,
  ).catch((error: Error) => {
    throw new Error(error.message + diagnostics())
  })

beforeAll(async () => {
  requirePrometheus()
  server = await startServer({ runtime: 'bun' })
  viewer = { Authorization: `Bearer ${await cliKey('viewer')}` }
  const ingestKey = await cliKey('viewer', ['ingest'])
  targetPort = await serveTarget()
  prometheus = await startPrometheus(
    {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['rules.yml'],
      scrape_configs: [{ job_name: 'e2e', static_configs: [{ targets: [`127.0.0.1:${targetPort}`] }] }],
      // Path prefix `/` (the default): Prometheus posts to /api/v2/alerts.
      alerting: {
        alertmanagers: [
          {
            static_configs: [{ targets: [`127.0.0.1:${server.port}`] }],
            api_version: 'v2',
            timeout: '5s',
            authorization: { credentials: ingestKey },
          },
        ],
      },
    },
    {
      files: {
        'rules.yml': {
          groups: [
            {
              name: 'e2e',
              rules: [
                {
                  alert: RULE,
                  expr: `${GAUGE} > 5`,
                  for: '0s',
                  labels: { severity: 'page', team: 'storage' },
                  annotations: { summary: 'Value {{ $value }} on {{ $labels.disk }}' },
                },
              ],
            },
          ],
        },
      },
      // Re-send firing alerts every second (default 1 m), so the test sees the re-sends become repeats.
      args: ['--rules.alert.resend-delay=1s'],
    },
  )
  // Prometheus has scraped the target (at 1, below the threshold) before the test moves the value.
  await until(
    'Prometheus to scrape the target',
    async () => {
      const res = await fetch(`${prometheus!.url}/api/v1/query?query=${GAUGE}`, { signal: AbortSignal.timeout(2_000) })
      const body = (await res.json()) as { data?: { result?: unknown[] } }
      return body.data?.result?.length ? true : undefined
    },
    60_000,
    250,
  ).catch((error: Error) => {
    throw new Error(error.message + diagnostics())
  })
})

afterAll(async () => {
  await prometheus?.stop()
  await new Promise((resolve) => (target ? target.close(resolve) : resolve(undefined)))
  await killAll()
})

describe('Prometheus 2.42 alerting into Homeostat as its Alertmanager', () => {
  it('fires one alert with the rule labels when the value goes above 5, however often Prometheus re-sends it', async () => {
    expect(await alerts()).toEqual([])
    value = 10
    await waitFor('the alert to fire in Homeostat', (list) => list.some((a) => a.status === 'firing'))
    // Prometheus re-sends the firing alert every second: they are repeats of the one alert.
    const list = await waitFor('Prometheus to re-send the firing alert', (l) => (l[0]?.repeatCount ?? 0) >= 3)
    expect(list).toHaveLength(1)
    const a = list[0]!
    expect(a).toMatchObject({ status: 'firing', severity: 'critical', title: RULE, source: 'prometheus' })
    expect(a.labels).toEqual({
      alertname: RULE,
      disk: 'sda',
      instance: `127.0.0.1:${targetPort}`,
      job: 'e2e',
      severity: 'page',
      team: 'storage',
    })
    expect(a.annotations.summary).toBe('Value 10 on sda')
    expect(a.annotations.generatorURL).toContain(GAUGE)
  })

  it('resolves the same alert when the value goes back below 5, with its history', async () => {
    value = 1
    const list = await waitFor(
      'the alert to resolve in Homeostat',
      (l) => l.length > 0 && l.every((a) => a.status === 'resolved'),
    )
    expect(list).toHaveLength(1)
    const res = await server.fetch(`/api/v1/alerts/${list[0]!.id}`, { headers: viewer })
    const detail = (await res.json()) as AlertOut
    expect(detail.events!.map((e) => e.type)).toEqual(['created', 'fired', 'resolved'])
    expect(detail.events!.every((e) => e.actor.startsWith('key:'))).toBe(true)
  })

  it('Prometheus never had a delivery refused', () => {
    expect(prometheus!.log()).not.toMatch(/Error sending alert|status code 4\d\d|status code 5\d\d/)
    expect(server.output()).toMatch(/"route":"\/api\/v2\/alerts","status":200/)
    expect(server.output()).not.toMatch(/"route":"\/api\/v2\/alerts","status":(?!200)/)
  })
})
