/**
 * The bench's public status page figures (`BENCH_ONLY=status`), on a Homeostat of its own (Bun,
 * empty DB): a published page of COMPONENTS components (default 40) in four groups, each with 90
 * days of status history (one result an hour, a few outages), three incidents with updates and a
 * public maintenance window. Anonymous visitors read GET /status/:slug (HTML), /status/:slug.json,
 * /status/:slug/feed.atom (each as clients ask: Accept-Encoding gzip, deflate, br) and the HTML with
 * If-None-Match (304), and the HTML and JSON uncompressed, against GET /api/v1/whoami with a viewer
 * key and the same Accept-Encoding on the same server, in interleaved rounds (BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP,
 * BENCH_CONNECTIONS as in run.ts). Target: ≥ 0.8× whoami (issue 22): a burst of visitors is served
 * from the in-process cache, checked every 10 s and rendered again only when it changed (ADR 0021).
 * Each answer's bytes as sent (uncompressed, gzip, Brotli) are printed, and once more the time to
 * build the page from the database (the cache dropped by an incident update before each read).
 *
 * Returns table rows and what failed to run; asserts nothing.
 */
import { createClient } from '@libsql/client'
import { type ReadScenario, readsAgainstBaseline } from './reads.ts'
import { apiCall, benchKey, BUN, type Env, envFor, fmt, pct, profileFlags, runCommand, startHomeostat } from './lib.ts'

const COMPONENTS = Number(process.env.STATUS_COMPONENTS ?? 40)
const DAY = 86_400_000
const HOUR = 3_600_000
const BUILD_TRIALS = 30
export const READ_MIN_RATIO = 0.8

/** 90 days of hourly results for a component, with a few outages, as the checks store them. */
async function seedHistory(url: string, ids: string[]) {
  const client = createClient({ url })
  try {
    // The server writes to the same file meanwhile (its jobs): wait for its locks rather than fail.
    await client.execute('PRAGMA busy_timeout = 10000')
    const now = Date.now()
    const start = Math.floor(now / HOUR) * HOUR - 90 * DAY
    const today = Math.floor(now / DAY) * DAY
    for (const [n, id] of ids.entries()) {
      const stmts: { sql: string; args: (string | number)[] }[] = []
      let prevUp = 1
      for (let ts = start + HOUR; ts < now; ts += HOUR) {
        // An outage of a few hours every three weeks or so, none today: today's bar stays put while
        // the bench runs, so the 304 scenario's ETag holds across the cache's rebuilds.
        const up = ts < today && (ts / HOUR + n * 7) % 509 < 3 ? 0 : 1
        stmts.push({
          sql: "insert into status_history (component_id, ts, up, source, prev_ts, prev_up, held_ms) values (?, ?, ?, 'push', ?, ?, ?)",
          args: [id, ts, up, ts - HOUR, prevUp, HOUR],
        })
        prevUp = up
      }
      await client.batch(stmts, 'write')
      await client.execute({
        sql: "update components set status = 'up', last_check_at = ?, status_since = ? where id = ?",
        args: [now - 1000, now - DAY, id],
      })
    }
  } finally {
    client.close()
  }
}

export async function statusFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const env = envFor(dir, base, 'status')
  const server = await startHomeostat('homeostat (status pages)', env, profileFlags())
  try {
    const admin = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench-admin', '--role', 'admin'], env)
    const viewer = benchKey(env, 'viewer')
    const ids: string[] = []
    for (let i = 0; i < COMPONENTS; i++) {
      const c = await apiCall(
        `${server.url}/api/v1/components`,
        admin,
        'POST',
        { name: `svc-${i}`, kind: 'service', push: { expectedIntervalSeconds: 3600, graceSeconds: 600 } },
        201,
      )
      ids.push(c!.id as string)
    }
    const groups = [0, 1, 2, 3].map((g) => ({
      name: `Group ${g + 1}`,
      components: ids
        .filter((_, i) => i % 4 === g)
        .map((componentId, i) => ({ componentId, displayName: `Service ${g}.${i}` })),
    }))
    const page = await apiCall(
      `${server.url}/api/v1/status-pages`,
      admin,
      'POST',
      { slug: 'bench', title: 'Bench status', published: true, groups },
      201,
    )
    let incidentId = ''
    for (const n of [1, 2, 3]) {
      const incident = await apiCall(
        `${server.url}/api/v1/status-pages/${page!.id}/incidents`,
        admin,
        'POST',
        {
          title: `Incident ${n}`,
          message: 'Looking into it.',
          componentIds: [ids[n]!],
          startedAt: Date.now() - n * DAY,
        },
        201,
      )
      incidentId = incident!.id as string
      await apiCall(`${server.url}/api/v1/status-incidents/${incidentId}/updates`, admin, 'POST', {
        status: n === 1 ? 'monitoring' : 'resolved',
        message: 'A fix is out.',
      })
    }
    await seedHistory(env.DATABASE_URL!, ids)
    log(`  status: ${COMPONENTS} components with 90 days of hourly history seeded`)
    // The seeding took longer than the server keeps an idle connection: a pooled socket may have
    // been closed under the client, so the first read after it is tried twice.
    const read = () => fetch(`${server.url}/status/bench`)
    await read().catch(read)
    // The ETag the 304 scenario sends is taken once the page shows the whole seed: a page built while
    // the server still saw part of it (seen once with the seeding racing a job's lease) is replaced
    // by the next check (10 s), which would turn the 304s into 200s.
    for (let i = 0; i < 40; i++) {
      const v = (await (await fetch(`${server.url}/status/bench.json`)).json()) as {
        groups: { components: { status: string }[] }[]
      }
      if (v.groups.every((g) => g.components.every((c) => c.status === 'operational'))) break
      await new Promise((r) => setTimeout(r, 1000))
    }
    const first = await read()
    const etag = first.headers.get('etag')!
    const htmlBytes = (await first.arrayBuffer()).byteLength
    // What each answer weighs as sent, by encoding: the Content-Length of its kept bytes.
    const weights: string[] = []
    for (const [name, path] of [
      ['HTML', '/status/bench'],
      ['JSON', '/status/bench.json'],
      ['Atom', '/status/bench/feed.atom'],
    ] as const) {
      const bytes: string[] = []
      for (const encoding of ['identity', 'gzip', 'br']) {
        const res = await fetch(`${server.url}${path}`, { headers: { 'accept-encoding': encoding } })
        await res.arrayBuffer()
        bytes.push(`${res.headers.get('content-length')} ${encoding}`)
      }
      weights.push(`${name} ${bytes.join(' / ')}`)
    }
    log(`  status answers' bytes: ${weights.join('; ')}`)
    // Every scenario, the whoami baseline included, sends what browsers and fetch() send, so the ratio
    // compares the same client work; whoami's answer is never compressed (it is ~150 bytes).
    const compressed = { 'accept-encoding': 'gzip, deflate, br' }
    const scenarios: [ReadScenario, ...ReadScenario[]] = [
      {
        id: 'whoami',
        figure: 'GET /api/v1/whoami (API key, same Accept-Encoding)',
        path: '/api/v1/whoami',
        request: { headers: { authorization: `Bearer ${viewer}`, ...compressed } },
        status: 200,
      },
      {
        id: 'status-html',
        figure: `GET /status/:slug (HTML, compressed as browsers ask, ${COMPONENTS} components)`,
        path: '/status/bench',
        request: { headers: compressed },
        status: 200,
      },
      {
        id: 'status-plain',
        figure: `GET /status/:slug (HTML uncompressed, ${Math.round(htmlBytes / 1024)} KB)`,
        path: '/status/bench',
        request: {},
        status: 200,
      },
      {
        id: 'status-json',
        figure: 'GET /status/:slug.json (compressed as fetch asks)',
        path: '/status/bench.json',
        request: { headers: compressed },
        status: 200,
      },
      {
        id: 'status-json-plain',
        figure: 'GET /status/:slug.json (uncompressed)',
        path: '/status/bench.json',
        request: {},
        status: 200,
      },
      {
        id: 'status-atom',
        figure: 'GET /status/:slug/feed.atom (compressed as feed readers ask)',
        path: '/status/bench/feed.atom',
        request: { headers: compressed },
        status: 200,
      },
      {
        id: 'status-304',
        figure: 'GET /status/:slug (If-None-Match → 304)',
        path: '/status/bench',
        request: { headers: { 'if-none-match': etag, ...compressed } },
        status: 304,
      },
    ]
    const rows = await readsAgainstBaseline(server, scenarios, {
      label: 'status',
      minRatio: READ_MIN_RATIO,
      log,
      failed,
    })
    // The uncached build: an incident update drops the page, the next read builds it from the database.
    const builds: number[] = []
    for (let i = 0; i < BUILD_TRIALS; i++) {
      await apiCall(
        `${server.url}/api/v1/status-incidents/${incidentId}`,
        admin,
        'PATCH',
        { title: `Incident ${i}` },
        200,
      )
      const t0 = performance.now()
      const res = await fetch(`${server.url}/status/bench`)
      await res.arrayBuffer()
      builds.push(performance.now() - t0)
    }
    builds.sort((a, b) => a - b)
    log(`  status page build from the database: p50 ${fmt(pct(builds, 0.5))} ms, p95 ${fmt(pct(builds, 0.95))} ms`)
    rows.push(["status answers' bytes (uncompressed / gzip / br)", weights.join('; '), '—', '', ''])
    rows.push([
      `status page build, uncached (${COMPONENTS} components × 90 days) p50 / p95`,
      `${fmt(pct(builds, 0.5))} / ${fmt(pct(builds, 0.95))} ms`,
      '—',
      '',
      '',
    ])
    return { rows, failed }
  } catch (error) {
    // What the server said last, to tell a refused request from a server that died.
    log(
      `  status: ${error instanceof Error ? `${error.message} ${String(error.cause ?? '')} ${error.stack}` : String(error)}\n${server.output().slice(-1500)}`,
    )
    throw error
  } finally {
    await server.stop()
  }
}
