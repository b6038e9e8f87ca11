/**
 * The real `promtool` (Debian's prometheus package) as the client of the query API, against the app
 * served on 127.0.0.1: it sends Prometheus' own client requests (POST forms, falling back to GET).
 * The key goes as basic auth (the password in the URL's user info) or, for `query range`, as a
 * Bearer header (`--header`, the only header flag promtool 2.42 has).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingestAgentMetrics } from '../helpers/agent-metrics.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { serveApp } from '../helpers/n8n-harness.ts'

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool'
const END = Date.parse('2026-11-20T12:00:00Z')
const END_S = END / 1000

let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let key: string
let withKey: string // the server's URL with the key as basic auth's password
beforeAll(async () => {
  if (!existsSync(PROMTOOL))
    throw new Error(`${PROMTOOL} not found: install it with apt-get install -y prometheus (or set PROMTOOL_BIN)`)
  t = await testApp()
  key = (await t.key('viewer')).key
  await ingestAgentMetrics(t, END)
  server = await serveApp(t)
  withKey = server.url.replace('http://', `http://grafana:${key}@`)
})
afterAll(async () => {
  await server?.close()
  t?.close()
})

const run = promisify(execFile)
async function promtool(...args: string[]) {
  try {
    const { stdout } = await run(PROMTOOL, ['query', ...args], { timeout: 30_000 })
    return { code: 0, stdout, stderr: '' }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }
  }
}
const json = async (...args: string[]) => {
  const r = await promtool('-o', 'json', ...args)
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

describe('promtool query', () => {
  it('instant: an error ratio, basic auth with the key', async () => {
    const out = await json(
      'instant',
      `--time=${END_S}`,
      withKey,
      'sum by (agent) (rate(agent_requests_total{status="error"}[5m])) / ignoring(status) sum by (agent) (rate(agent_requests_total{status="ok"}[5m]))',
    )
    expect(out).toEqual([{ metric: { agent: 'planner' }, value: [END_S, expect.any(String)] }])
    expect(Number(out[0].value[1])).toBeCloseTo(0.25, 12)
  })
  it('instant, text output: a p95 from buckets', async () => {
    const r = await promtool(
      'instant',
      '--time=2026-11-20T12:00:00Z',
      withKey,
      'histogram_quantile(0.95, sum by (le) (rate(llm_request_duration_seconds_bucket[5m])))',
    )
    expect(r.code, r.stderr).toBe(0)
    const [, value, at] = /^\{\} => ([\d.]+) @\[(\d+)\]$/.exec(r.stdout.trim()) ?? []
    expect(Number(value)).toBeCloseTo(0.9, 12)
    expect(Number(at)).toBe(END_S)
  })
  it('range, with the key as a Bearer header', async () => {
    const out = await json(
      'range',
      `--start=${END_S - 120}`,
      '--end=2026-11-20T12:00:00Z',
      '--step=1m',
      `--header=Authorization: Bearer ${key}`,
      server.url,
      'sum by (agent) (rate(agent_requests_total{status="ok"}[5m]))',
    )
    const planner = out.find((s: { metric: { agent: string } }) => s.metric.agent === 'planner')
    expect(planner.values.map((v: [number, string]) => v[0])).toEqual([END_S - 120, END_S - 60, END_S])
    expect(Number(planner.values[2][1])).toBeCloseTo(1 / 15, 12)
  })
  it('labels and series', async () => {
    expect(await json('labels', withKey, 'agent')).toEqual(['coder', 'planner'])
    const series = await json('series', '--match=agent_requests_total{agent="coder"}', withKey)
    expect(series).toEqual([{ __name__: 'agent_requests_total', agent: 'coder', status: 'ok' }])
  })
  it('an unsupported function fails with the server’s bad_data message', async () => {
    const r = await promtool('instant', withKey, 'predict_linear(agent_requests_total[5m], 60)')
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/bad_data.*unsupported function "predict_linear"/)
  })
  it('without the key the server refuses', async () => {
    const r = await promtool('instant', server.url, '1')
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/401|unauthori/i)
  })
})
