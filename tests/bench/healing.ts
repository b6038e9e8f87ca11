/**
 * The bench's healing figures (`BENCH_ONLY=healing`), each part on a Homeostat of its own (Bun, empty DB):
 *
 * - Detection → failover: HEAL_ROUTES model routes (default 10), each with its own primary and
 *   backup fake Ollama host (tests/helpers/fake-model-host.ts, in this process), probe path
 *   `/api/tags`, failbackAfterMs 1 s, and a healing rule `{trigger: breaker on the primary's key,
 *   model_failover, target: the route}`; the server probes every second
 *   (MODEL_ROUTE_PROBE_INTERVAL_SECONDS=1). Each route runs HEAL_TRIALS_PER_ROUTE trials (default 5;
 *   50 in all), routes in parallel: after a random 0–1 s pause (so trials start at every phase of the
 *   probe tick), the primary is switched to fail (500s on odd trials, hanging on even ones) at t0
 *   and GET /api/v1/model-routes/:name is polled every 25 ms until the active target changes; then
 *   the primary recovers and the trial waits for the route to fail back (half-open probes, 3
 *   successes, 1 s healthy) before the next one.
 * - The agents' read: GET /api/v1/model-routes/:name (200 with the body, no If-None-Match) and the
 *   same with a matching If-None-Match (304), against GET /api/v1/whoami on the same server with the
 *   same viewer key, in interleaved rounds (BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP,
 *   BENCH_CONNECTIONS as in run.ts).
 *
 * Returns table rows and what failed to run; asserts nothing.
 */
import { startFakeModelHost, type FakeModelHost } from '../helpers/fake-model-host.ts'
import { type ReadScenario, readsAgainstBaseline } from './reads.ts'
import { apiCall, benchKey, type Env, envFor, fmt, pct, sleep, startHomeostat, verdict } from './lib.ts'

const ROUTES = Number(process.env.HEAL_ROUTES ?? 10)
const TRIALS_PER_ROUTE = Number(process.env.HEAL_TRIALS_PER_ROUTE ?? 5)
const POLL_MS = 25

export const FAILOVER_P95_MAX_MS = 5000
export const READ_MIN_RATIO = 0.8

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

// --- 1. detection → failover -----------------------------------------------------------------------

async function failoverFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
  failed: string[],
): Promise<string[][]> {
  const env = envFor(dir, base, 'healing-failover', { MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '1' })
  const server = await startHomeostat('homeostat (healing failover)', env)
  const hosts: FakeModelHost[] = []
  try {
    const key = benchKey(env, 'operator')
    const routes: { name: string; primary: FakeModelHost; key: string }[] = []
    for (let i = 0; i < ROUTES; i++) {
      const primary = await startFakeModelHost({ models: ['llama3:8b'] })
      const backup = await startFakeModelHost({ models: ['mistral:7b'] })
      hosts.push(primary, backup)
      const name = `bench-${i}`
      const route = await apiCall(
        `${server.url}/api/v1/model-routes`,
        key,
        'POST',
        {
          name,
          targets: [
            { model: 'llama3:8b', host: primary.url },
            { model: 'mistral:7b', host: backup.url },
          ],
          failbackAfterMs: 1000,
          probePath: '/api/tags',
        },
        201,
      )
      const primaryKey = route!.targets[0].breaker.key as string
      await apiCall(
        `${server.url}/api/v1/healing/rules`,
        key,
        'POST',
        {
          name: `fail over ${name}`,
          trigger: { type: 'breaker', keyPattern: `^${escapeRegex(primaryKey)}$` },
          actionType: 'model_failover',
          target: name,
          cooldownMs: 0,
          maxPerHour: 3600,
        },
        201,
      )
      routes.push({ name, primary, key: primaryKey })
    }
    const active = async (name: string) => (await apiCall(`${server.url}/api/v1/model-routes/${name}`, key))!
    const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs
      while (!(await check())) {
        if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
        await sleep(POLL_MS)
      }
      return performance.now()
    }
    // Every primary probed healthy first.
    await Promise.all(
      routes.map((r) =>
        waitFor(
          `${r.name} primary closed`,
          async () => (await active(r.name)).targets[0].breaker.state === 'CLOSED',
          30_000,
        ),
      ),
    )

    const times: number[] = []
    const byMode = { error: [] as number[], hang: [] as number[] }
    let errors = 0
    await Promise.all(
      routes.map(async (r) => {
        for (let trial = 0; trial < TRIALS_PER_ROUTE; trial++) {
          try {
            await sleep(Math.random() * 1000)
            const mode = trial % 2 ? 'hang' : 'error'
            const t0 = performance.now()
            r.primary.setMode(mode)
            const t1 = await waitFor(`${r.name} failover`, async () => (await active(r.name)).activeIndex !== 0, 30_000)
            times.push(t1 - t0)
            byMode[mode].push(t1 - t0)
            r.primary.setMode('ok')
            await waitFor(
              `${r.name} failback`,
              async () => {
                const a = await active(r.name)
                return a.activeIndex === 0 && a.targets[0].breaker.state === 'CLOSED'
              },
              60_000,
            )
          } catch (error) {
            errors++
            r.primary.setMode('ok')
            failed.push(
              `healing failover trial (${r.name} #${trial + 1}): ${error instanceof Error ? error.message : String(error)}`,
            )
            await sleep(15_000)
          }
        }
      }),
    )
    times.sort((a, b) => a - b)
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b)
    const p95 = times.length ? pct(times, 0.95) : NaN
    log(
      `  healing: detection → failover ×${times.length} (${errors} failed): p50 ${fmt(pct(times, 0.5))} ms, p95 ${fmt(p95)} ms, max ${fmt(times.at(-1) ?? NaN)} ms`,
    )
    return [
      [
        `target fails → route switched p50 (${times.length} trials, 1 s probes)`,
        `${fmt(pct(times, 0.5))} ms`,
        '—',
        '',
        '',
      ],
      [
        `target fails → route switched p95 (${times.length} trials, 1 s probes)`,
        `${fmt(p95)} ms`,
        `< ${fmt(FAILOVER_P95_MAX_MS)} ms`,
        '',
        verdict(p95 < FAILOVER_P95_MAX_MS && errors === 0),
      ],
      [
        '  of which target answers 500: p50 / p95',
        `${fmt(pct(sorted(byMode.error), 0.5))} / ${fmt(pct(sorted(byMode.error), 0.95))} ms`,
        '—',
        '',
        '',
      ],
      [
        '  of which target hangs (800 ms probe timeout): p50 / p95',
        `${fmt(pct(sorted(byMode.hang), 0.5))} / ${fmt(pct(sorted(byMode.hang), 0.95))} ms`,
        '—',
        '',
        '',
      ],
    ]
  } finally {
    await Promise.all(hosts.map((h) => h.close()))
    await server.stop()
  }
}

// --- 2. GET /api/v1/model-routes/:name vs whoami -------------------------------------------------

async function readFigures(dir: string, base: Env, log: (line: string) => void, failed: string[]): Promise<string[][]> {
  const env = envFor(dir, base, 'healing-read', { MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '0' })
  const server = await startHomeostat('homeostat (healing read)', env)
  try {
    const operator = benchKey(env, 'operator')
    const viewer = benchKey(env, 'viewer')
    await apiCall(
      `${server.url}/api/v1/model-routes`,
      operator,
      'POST',
      {
        name: 'chat',
        targets: [
          { model: 'llama3:8b', host: 'http://10.0.0.1:11434' },
          { model: 'mistral:7b', host: 'http://10.0.0.2:11434' },
        ],
        probePath: '/api/tags',
      },
      201,
    )
    // Breakers for both targets, so the answer carries their states as it would in use.
    for (const host of ['10.0.0.1', '10.0.0.2'])
      await apiCall(
        `${server.url}/api/v1/healing/breakers/${encodeURIComponent(`model:http://${host}:11434/${host.endsWith('1') ? 'llama3:8b' : 'mistral:7b'}`)}/report`,
        operator,
        'POST',
        { ok: true },
        200,
      )
    // A canary split (issue 19): the read hashes the caller key over the healthy weighted targets.
    await apiCall(
      `${server.url}/api/v1/model-routes`,
      operator,
      'POST',
      {
        name: 'canary',
        targets: [
          { model: 'llama3:8b', host: 'http://10.0.0.1:11434', weight: 90 },
          { model: 'mistral:7b', host: 'http://10.0.0.2:11434', weight: 10 },
        ],
      },
      201,
    )
    const first = await fetch(`${server.url}/api/v1/model-routes/chat`, {
      headers: { authorization: `Bearer ${viewer}` },
    })
    const etag = first.headers.get('etag')!
    const bodyBytes = (await first.arrayBuffer()).byteLength
    const auth = { authorization: `Bearer ${viewer}` }
    const keyed = { ...auth, 'x-caller-key': 'agent-7' }
    const weighted = await fetch(`${server.url}/api/v1/model-routes/canary`, { headers: keyed })
    const weightedEtag = weighted.headers.get('etag')!
    const weightedBytes = (await weighted.arrayBuffer()).byteLength
    const scenarios: [ReadScenario, ...ReadScenario[]] = [
      {
        id: 'whoami',
        figure: 'GET /api/v1/whoami (API key)',
        path: '/api/v1/whoami',
        request: { headers: auth },
        status: 200,
      },
      {
        id: 'route',
        figure: `GET /api/v1/model-routes/:name (200, ${bodyBytes} B)`,
        path: '/api/v1/model-routes/chat',
        request: { headers: auth },
        status: 200,
      },
      {
        id: 'route304',
        figure: 'GET /api/v1/model-routes/:name (If-None-Match → 304)',
        path: '/api/v1/model-routes/chat',
        request: { headers: { ...auth, 'if-none-match': etag } },
        status: 304,
      },
      {
        id: 'routeWeighted',
        figure: `GET /api/v1/model-routes/:name weighted 90/10, X-Caller-Key (200, ${weightedBytes} B)`,
        path: '/api/v1/model-routes/canary',
        request: { headers: keyed },
        status: 200,
      },
      {
        id: 'routeWeighted304',
        figure: 'GET /api/v1/model-routes/:name weighted, X-Caller-Key (If-None-Match → 304)',
        path: '/api/v1/model-routes/canary',
        request: { headers: { ...keyed, 'if-none-match': weightedEtag } },
        status: 304,
      },
    ]
    const rows = await readsAgainstBaseline(server, scenarios, {
      label: 'healing',
      minRatio: READ_MIN_RATIO,
      log,
      failed,
    })
    return rows
  } finally {
    await server.stop()
  }
}

/** Every healing figure, one part after the other. */
export async function healingFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  log(
    `healing: detection → failover (${ROUTES} routes × ${TRIALS_PER_ROUTE} trials), GET /api/v1/model-routes/:name vs whoami`,
  )
  rows.push(...(await failoverFigures(dir, base, log, failed)))
  rows.push(...(await readFigures(dir, base, log, failed)))
  return { rows, failed }
}
