/**
 * What the fleet script shares with nothing else in k6: the mix (mix.json, the same file the bench
 * and the suite read), the setup that creates what the mix needs through the API, and one request of
 * each kind. Not a script itself; tests/load/fleet.ts runs it. The Node twin of this file is
 * tests/helpers/fleet.ts (the bench and the suite): change both together. The mix's types are in
 * mix-types.ts, which both import.
 */
import exec from 'k6/execution'
import http from 'k6/http'

import type { Mix } from './mix-types.ts'

// open() works in k6's init context only, which is where this module is first evaluated.
export const MIX = JSON.parse(open('./mix.json')) as Mix
export const BASE_URL = (__ENV.BASE_URL ?? 'http://localhost:8787').replace(/\/+$/, '')

/** What setup() made, handed to every VU. */
export type Fleet = {
  ingestKeys: string[]
  readerKeys: string[]
  n8nKeys: string[]
  pushTokens: string[]
  cookies: string[]
  routes: string[]
  prompts: string[]
  metricsKey: string
}

const PASSWORD = 'load-test-password-long-enough'

function call(key: string, method: 'POST', path: string, body: unknown, expect: number) {
  const res = http.request(method, BASE_URL + path, JSON.stringify(body), {
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    tags: { name: `setup ${path.replace(/\/load-[^/]+/, '/:name')}` },
  })
  if (res.status !== expect)
    exec.test.abort(`setup: ${method} ${path} answered ${res.status}: ${String(res.body).slice(0, 300)}`)
  return res.json() as Record<string, unknown>
}

/**
 * Creates, as the admin whose key is ADMIN_KEY, the keys, push components, model routes (targets
 * MODEL_HOST_A / MODEL_HOST_B), prompts and signed-in users the mix uses, all named `load-…-<run>`.
 */
export function setupFleet(adminKey: string): Fleet {
  const f = MIX.fleet
  const run = Date.now().toString(36)
  const times = (n: number) => Array.from({ length: n }, (_, i) => i)
  const key = (name: string, scopes: string[]) =>
    call(adminKey, 'POST', '/api/v1/keys', { name, role: 'viewer', scopes }, 201).key as string
  const hostA = __ENV.MODEL_HOST_A ?? 'http://127.0.0.1:11434'
  const hostB = __ENV.MODEL_HOST_B ?? 'http://127.0.0.1:11435'
  const fleet: Fleet = {
    ingestKeys: times(f.ingestKeys).map((i) => key(`load-ingest-${i}-${run}`, ['ingest'])),
    n8nKeys: times(f.n8nKeys).map((i) => key(`load-n8n-${i}-${run}`, ['ingest'])),
    readerKeys: times(f.readerKeys).map((i) => key(`load-reader-${i}-${run}`, ['routes'])),
    metricsKey: key(`load-metrics-${run}`, []),
    pushTokens: times(f.pushComponents).map((i) => {
      const push = { expectedIntervalSeconds: f.heartbeatSeconds, graceSeconds: f.heartbeatSeconds * 2 }
      const c = call(
        adminKey,
        'POST',
        '/api/v1/components',
        { name: `load-agent-${i}-${run}`, kind: 'agent', push },
        201,
      )
      return (c.push as { token: string }).token
    }),
    routes: f.modelRoutes.map((r) => `${r}-${run}`),
    prompts: f.prompts.map((p) => `${p}-${run}`),
    cookies: [],
  }
  for (const name of fleet.routes) {
    const targets = [
      { model: 'llama3:8b', host: hostA },
      { model: 'mistral:7b', host: hostB },
    ]
    call(adminKey, 'POST', '/api/v1/model-routes', { name, targets }, 201)
  }
  for (const name of fleet.prompts) {
    call(adminKey, 'POST', '/api/v1/prompts', { name }, 201)
    const version = {
      template: 'You are the support agent of {{company}}.\nAnswer {{customer}} in a friendly tone.',
      variables: ['company', 'customer'],
      label: 'production',
    }
    call(adminKey, 'POST', `/api/v1/prompts/${name}/versions`, version, 201)
  }
  for (const i of times(f.users)) {
    const email = `load-${i}-${run}@example.com`
    call(adminKey, 'POST', '/api/v1/users', { email, role: 'viewer', password: PASSWORD }, 201)
    // A jar of its own: the VU's jar would send the previous user's session cookie, and a signed-in
    // form post without that session's CSRF token is refused (403), as a browser's would be.
    const res = http.post(
      `${BASE_URL}/login`,
      { email, password: PASSWORD },
      { redirects: 0, jar: new http.CookieJar(), tags: { name: 'setup /login' } },
    )
    const cookie = res.cookies.hs_session?.[0]?.value
    if (!cookie) exec.test.abort(`setup: signing in ${email} answered ${res.status} without a session cookie`)
    fleet.cookies.push(`hs_session=${cookie}`)
  }
  return fleet
}

/** The kinds in the mix's proportions, spread evenly (smooth weighted round robin), 100 long. */
export function kindCycle(): string[] {
  const total = MIX.kinds.reduce((s, k) => s + k.weight, 0)
  const current: Record<string, number> = {}
  const out: string[] = []
  for (let i = 0; i < total; i++) {
    let best = MIX.kinds[0]!
    for (const k of MIX.kinds) {
      current[k.id] = (current[k.id] ?? 0) + k.weight
      if (current[k.id]! > current[best.id]!) best = k
    }
    current[best.id]! -= total
    out.push(best.id)
  }
  return out
}

export type Built = {
  method: 'GET' | 'POST'
  path: string
  name: string
  headers: Record<string, string>
  body?: string
  ok: number[]
}

const PAGES = ['/alerts', '/components', '/healing']
const FRAGMENTS = ['/alerts/list', '/overview/components?range=24h', '/healing/live']

/** Request number `n` of `kind`; `etags` holds this VU's last ETag per read path. */
export function requestOf(kind: string, n: number, fleet: Fleet, etags: Record<string, string>): Built {
  const f = MIX.fleet
  const pick = <T>(list: T[]) => list[n % list.length]!
  const json = (key: string) => ({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' })
  const agent = `agent-${n % f.metricSeries}`
  const now = Date.now()
  const post = (path: string, key: string, body: unknown): Built => ({
    method: 'POST',
    path,
    name: `POST ${path}`,
    headers: json(key),
    body: JSON.stringify(body),
    ok: [200],
  })
  switch (kind) {
    case 'metrics-single':
      return post('/api/v1/metrics', pick(fleet.ingestKeys), {
        name: 'load_agent_latency_seconds',
        value: (n % 97) / 100,
        labels: { agent },
      })
    case 'metrics-batch':
      return post('/api/v1/metrics', pick(fleet.ingestKeys), {
        points: Array.from({ length: f.batchPoints }, (_, j) => ({
          name: `load_agent_metric_${j % 10}`,
          value: n + j,
          labels: { agent, part: String(Math.floor(j / 10)) },
          ts: now,
        })),
      })
    case 'heartbeat':
      return {
        method: 'GET',
        path: `/api/v1/push/${pick(fleet.pushTokens)}?status=up&ping=${10 + (n % 40)}`,
        name: 'GET /api/v1/push/:token',
        headers: {},
        ok: [200],
      }
    case 'alerts-v2':
      return post(
        '/api/v2/alerts',
        pick(fleet.ingestKeys),
        Array.from({ length: f.alertsPerPost }, (_, j) => ({
          labels: {
            alertname: 'LoadHighLatency',
            job: 'load',
            severity: 'warning',
            instance: `host-${(n * f.alertsPerPost + j) % f.alertLabelSets}`,
          },
          annotations: { summary: 'p95 latency over 2 s' },
          startsAt: new Date(now - 60_000).toISOString(),
          endsAt: new Date(now + 5 * 60_000).toISOString(),
          generatorURL: 'http://prometheus.example/graph',
        })),
      )
    case 'model-route':
    case 'prompt': {
      const prompt = kind === 'prompt'
      const path = prompt ? `/api/v1/prompts/${pick(fleet.prompts)}` : `/api/v1/model-routes/${pick(fleet.routes)}`
      const etag = etags[path]
      return {
        method: 'GET',
        path,
        name: prompt ? 'GET /api/v1/prompts/:name' : 'GET /api/v1/model-routes/:name',
        headers: { Authorization: `Bearer ${pick(fleet.readerKeys)}`, ...(etag ? { 'If-None-Match': etag } : {}) },
        ok: [200, 304],
      }
    }
    case 'n8n-metrics':
      return post('/api/v1/metrics', pick(fleet.n8nKeys), {
        points: Array.from({ length: f.n8nPoints }, (_, j) => ({
          name: 'n8n_node_duration_seconds',
          value: (n % 50) / 10,
          labels: { workflow: `wf-${n % 20}`, node: `node-${j}` },
          ts: now,
        })),
      })
    case 'dashboard-page': {
      const path = pick(PAGES)
      return {
        method: 'GET',
        path,
        name: `GET ${path}`,
        headers: { Cookie: pick(fleet.cookies), Accept: 'text/html' },
        ok: [200],
      }
    }
    default: {
      const path = pick(FRAGMENTS)
      const name = `GET ${path.split('?')[0]} (HTMX)`
      return { method: 'GET', path, name, headers: { Cookie: pick(fleet.cookies), 'HX-Request': 'true' }, ok: [200] }
    }
  }
}
