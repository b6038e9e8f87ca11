import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRoot } from '../../app/root.ts'
import { loadConfig } from '../../app/config.ts'
import { createSealer } from '../../app/lib/crypto.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { routeTable } from '../../app/lib/route-meta.ts'
import { createTelemetry } from '../../app/lib/telemetry.ts'
import { createApiKey } from '../../app/modules/auth/keys.ts'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'

/**
 * The app wired the way app/server.ts wires it (query timing into homeostat_db_query_duration_seconds, job
 * outcomes into homeostat_job_runs_total), over a real libSQL file.
 */
async function wiredApp(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-system-'))
  const config = loadConfig({
    DATABASE_URL: `file:${join(dir, 'test.db')}`,
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    JOBS_ENABLED: 'false',
    ...env,
  })
  const log = createLogger('silent')
  const telemetry = createTelemetry('9.8.7-test', 'node')
  const { db, client } = await openDb({ url: config.DATABASE_URL, onQuery: (s) => telemetry.dbQuery.observe({}, s) })
  await runMigrations(db)
  const { app, scheduler } = createRoot({ config, db, log, sealer: createSealer('x'.repeat(40)), telemetry })
  const key = async (role: 'viewer' | 'admin') => ({
    Authorization: `Bearer ${(await createApiKey(db, { name: role, role, scopes: [] })).key}`,
  })
  const close = async () => {
    await scheduler.stop()
    client.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return { app, db, client, scheduler, key, close }
}
type Wired = Awaited<ReturnType<typeof wiredApp>>
type Check = { name: string; ok: boolean; detail?: string }
const ready = async (w: Wired) => {
  const res = await w.app.request('/ready')
  return { status: res.status, body: (await res.json()) as { status: string; checks: Check[] } }
}

let w: Wired
let viewer: Record<string, string>
beforeAll(async () => {
  w = await wiredApp()
  viewer = await w.key('viewer')
})
afterAll(() => w.close())

describe('/health', () => {
  it('answers without auth', async () => {
    const res = await w.app.request('/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok', version: expect.any(String) })
  })
})

describe('/ready', () => {
  it('is 200 with each check when all is well', async () => {
    const { status, body } = await ready(w)
    expect(status).toBe(200)
    expect(body.status).toBe('ready')
    expect(body.checks.map((c) => [c.name, c.ok])).toEqual([
      ['database', true],
      ['migrations', true],
      ['disk', true],
      ['scheduler', true],
    ])
    expect(body.checks.find((c) => c.name === 'migrations')!.detail).toMatch(/^(\d+) of \1 applied$/)
  })

  it('is 503 while the scheduler is not running with JOBS_ENABLED=true, then 200 once started', async () => {
    const jobs = await wiredApp({ JOBS_ENABLED: 'true' })
    try {
      const before = await ready(jobs)
      expect(before.status).toBe(503)
      expect(before.body.status).toBe('not_ready')
      expect(before.body.checks.find((c) => c.name === 'scheduler')).toEqual({
        name: 'scheduler',
        ok: false,
        detail: 'not running',
      })
      jobs.scheduler.start()
      expect((await ready(jobs)).status).toBe(200)
    } finally {
      await jobs.close()
    }
  })

  it('is 503 naming the migrations when one is missing', async () => {
    const m = await wiredApp()
    try {
      // drizzle's table declares `id SERIAL`, which SQLite leaves null: pick the row by rowid.
      await m.client.execute(
        'delete from __drizzle_migrations where rowid = (select max(rowid) from __drizzle_migrations)',
      )
      const { status, body } = await ready(m)
      expect(status).toBe(503)
      const check = body.checks.find((c) => c.name === 'migrations')!
      expect(check.ok).toBe(false)
      const [, applied, expected] = check.detail!.match(/^(\d+) of (\d+) applied$/)!
      expect(Number(applied)).toBe(Number(expected) - 1)
    } finally {
      await m.close()
    }
  })

  it('is 503 when the database does not answer', async () => {
    const gone = await wiredApp()
    try {
      gone.client.close()
      const { status, body } = await ready(gone)
      expect(status).toBe(503)
      expect(body.checks.find((c) => c.name === 'database')!.ok).toBe(false)
    } finally {
      await gone.close()
    }
  })
})

describe('/metrics', () => {
  const scrape = async () => {
    const res = await w.app.request('/metrics', { headers: viewer })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    return res.text()
  }
  const sample = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `))
    return line === undefined ? undefined : Number(line.slice(series.length + 1))
  }

  it('needs a signed-in caller unless METRICS_PUBLIC is on', async () => {
    expect((await w.app.request('/metrics')).status).toBe(401)
    const open = await wiredApp({ METRICS_PUBLIC: 'true' })
    try {
      expect((await open.app.request('/metrics')).status).toBe(200)
    } finally {
      await open.close()
    }
  })

  it('is Prometheus text: every sample line parses and every family has HELP and TYPE', async () => {
    await w.app.request('/health')
    const text = await scrape()
    const families = new Set<string>()
    for (const line of text.trimEnd().split('\n')) {
      const m = line.match(/^# (HELP|TYPE) (\w+) /)
      if (m) families.add(`${m[1]} ${m[2]}`)
      else
        expect(line).toMatch(
          /^[a-zA-Z_:][\w:]*(\{[a-zA-Z_]\w*="(?:[^"\\]|\\.)*"(,[a-zA-Z_]\w*="(?:[^"\\]|\\.)*")*\})? (-?[\d.]+(e[+-]?\d+)?|NaN|[+-]Inf)$/,
        )
    }
    for (const name of [
      'homeostat_http_requests_total',
      'homeostat_http_request_duration_seconds',
      'homeostat_db_query_duration_seconds',
      'homeostat_job_runs_total',
      'homeostat_build_info',
    ]) {
      expect(families).toContain(`HELP ${name}`)
      expect(families).toContain(`TYPE ${name}`)
    }
  })

  it('counts requests by method, route pattern and status, with a duration histogram', async () => {
    const before =
      sample(await scrape(), 'homeostat_http_requests_total{method="GET",route="/health",status="200"}') ?? 0
    for (let i = 0; i < 3; i++) await w.app.request('/health')
    await w.app.request('/api/v1/users/some-id', { headers: await w.key('admin') })
    await w.app.request('/api/v1/no/such/route')
    const text = await scrape()
    expect(sample(text, 'homeostat_http_requests_total{method="GET",route="/health",status="200"}')).toBe(before + 3)
    expect(sample(text, 'homeostat_http_requests_total{method="GET",route="/api/v1/users/:id",status="404"}')).toBe(1)
    expect(
      sample(text, 'homeostat_http_requests_total{method="GET",route="unmatched",status="404"}'),
    ).toBeGreaterThanOrEqual(1)
    expect(text).not.toContain('some-id')
    const inf = sample(text, 'homeostat_http_request_duration_seconds_bucket{method="GET",route="/health",le="+Inf"}')
    expect(inf).toBe(sample(text, 'homeostat_http_request_duration_seconds_count{method="GET",route="/health"}'))
    expect(inf).toBeGreaterThanOrEqual(before + 3)
  })

  it('times database statements, counts job runs and shows the build', async () => {
    expect(await w.scheduler.runTick('housekeeping', 1_000)).toBe('ran')
    const text = await scrape()
    expect(sample(text, 'homeostat_db_query_duration_seconds_count')).toBeGreaterThan(0)
    expect(sample(text, 'homeostat_job_runs_total{job="housekeeping",outcome="ran"}')).toBe(1)
    expect(sample(text, 'homeostat_build_info{version="9.8.7-test",runtime="node"}')).toBe(1)
  })
})

describe('/api/v1/openapi.json and /docs', () => {
  type Op = {
    summary: string
    'x-access': string
    responses: Record<string, unknown>
    parameters?: { name: string; in: string }[]
    requestBody?: { content: Record<string, { schema: { type?: string; properties?: object } }> }
  }
  const load = async () => {
    const res = await w.app.request('/api/v1/openapi.json', { headers: viewer })
    expect(res.status).toBe(200)
    return (await res.json()) as {
      openapi: string
      info: { title: string; version: string }
      paths: Record<string, Record<string, Op>>
      components: { securitySchemes: object }
    }
  }

  it('is OpenAPI 3.1 with every /api route, its access, parameters and request body schema', async () => {
    const doc = await load()
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info.title).toBeTruthy()
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer', 'session'])
    const apiRoutes = routeTable(w.app).filter((r) => r.path.startsWith('/api/'))
    expect(apiRoutes.length).toBeGreaterThan(10)
    const problems: string[] = []
    for (const r of apiRoutes) {
      const path = r.path.replace(/:(\w+)/g, '{$1}')
      const op = doc.paths[path]?.[r.method.toLowerCase()]
      if (!op) {
        problems.push(`${r.method} ${r.path} missing`)
        continue
      }
      if (op['x-access'] !== r.access) problems.push(`${r.method} ${r.path}: access ${op['x-access']} vs ${r.access}`)
      if (!op.summary) problems.push(`${r.method} ${r.path}: no summary`)
      if (Object.keys(op.responses).length === 0) problems.push(`${r.method} ${r.path}: no responses`)
      for (const [, name] of r.path.matchAll(/:(\w+)/g)) {
        if (!op.parameters?.some((p) => p.name === name && p.in === 'path'))
          problems.push(`${r.method} ${r.path}: no path parameter ${name}`)
      }
      if (r.inputs.some((i) => i.target === 'json')) {
        const schema = op.requestBody?.content['application/json']?.schema
        if (!schema || (schema.type === 'object' && !schema.properties))
          problems.push(`${r.method} ${r.path}: no JSON body schema`)
      }
    }
    expect(problems).toEqual([])
    expect(
      doc.paths['/api/v1/users']!.post!.requestBody!.content['application/json']!.schema.properties,
    ).toHaveProperty('email')
  })

  it('the docs page lists every /api operation', async () => {
    const page = await (await w.app.request('/docs', { headers: { ...viewer, Accept: 'text/html' } })).text()
    for (const r of routeTable(w.app).filter((x) => x.path.startsWith('/api/'))) {
      expect(page).toContain(
        `<span class="method ${r.method.toLowerCase()}">${r.method}</span> <code>${r.path.replace(/:(\w+)/g, '{$1}')}</code>`,
      )
    }
  })
})

describe('/api/v1/jobs', () => {
  it('shows housekeeping with its schedule, last run and skipped count', async () => {
    await w.scheduler.runTick('housekeeping', 2_000)
    const res = await w.app.request('/api/v1/jobs', { headers: viewer })
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      running: boolean
      jobs: { name: string; schedule: string; skipped: number; lastRun: { status: string; tick: number } | null }[]
    }
    expect(body.running).toBe(false)
    const hk = body.jobs.find((j) => j.name === 'housekeeping')
    expect(hk).toMatchObject({ schedule: expect.any(String), skipped: 0, lastRun: { status: 'success', tick: 2_000 } })
  })
})
