/**
 * The bench's prompt registry figures (`BENCH_ONLY=prompts`), each part on a Homeostat of its own
 * (Bun, empty DB):
 *
 * - The agents' read: GET /api/v1/prompts/:name (production label, 200 without variables; 200
 *   compiled with two `var.*`; If-None-Match → 304) against GET /api/v1/whoami on the same server
 *   with the same viewer key, in interleaved rounds (BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP,
 *   BENCH_CONNECTIONS as in run.ts). Target: ≥ 0.8× whoami, as model routes.
 * - Score drop → label moved: the "Prompt performance drop" alert rule and the
 *   "prompt-performance-drop" healing template's rule; PROMPT_TRIALS prompts (default 20), each with
 *   versions 1 and 2 and production on 2. Trials start in parallel after a random 0–1 s pause (every
 *   phase of the healing tick); at t0 three prompt_score points of 0.2 for version 2 are posted, and
 *   GET /api/v1/prompts/:name is polled every 25 ms until it answers version 1. Target: p95 < 5 s.
 *
 * Returns table rows and what failed to run; asserts nothing.
 */
import { type ReadScenario, readsAgainstBaseline } from './reads.ts'
import { apiCall, benchKey, type Env, envFor, fmt, pct, sleep, startHomeostat, verdict } from './lib.ts'

const TRIALS = Number(process.env.PROMPT_TRIALS ?? 20)
const POLL_MS = 25
const GIVE_UP_MS = 30_000

export const ROLLBACK_P95_MAX_MS = 5000
export const READ_MIN_RATIO = 0.8

const TEMPLATE = (n: number) =>
  `You are the support agent of {{company}}.\nAnswer {{customer}} in a friendly tone.\nVersion ${n}: keep it under 120 words.`

async function addPrompt(url: string, operator: string, name: string) {
  await apiCall(`${url}/api/v1/prompts`, operator, 'POST', { name }, 201)
  for (const n of [1, 2])
    await apiCall(
      `${url}/api/v1/prompts/${name}/versions`,
      operator,
      'POST',
      {
        template: TEMPLATE(n),
        variables: ['company', 'customer'],
        parameters: { temperature: 0.2, model: 'qwen2.5:7b' },
        label: 'production',
      },
      201,
    )
}

// --- 1. GET /api/v1/prompts/:name vs whoami -------------------------------------------------------

async function readFigures(dir: string, base: Env, log: (line: string) => void, failed: string[]): Promise<string[][]> {
  const env = envFor(dir, base, 'prompts-read')
  const server = await startHomeostat('homeostat (prompts read)', env)
  try {
    const operator = benchKey(env, 'operator')
    const viewer = benchKey(env, 'viewer')
    await addPrompt(server.url, operator, 'support')
    const auth = { authorization: `Bearer ${viewer}` }
    const plain = '/api/v1/prompts/support'
    const compiled = '/api/v1/prompts/support?var.company=ACME&var.customer=Ann'
    const first = await fetch(server.url + plain, { headers: auth })
    const etag = first.headers.get('etag')!
    const bodyBytes = (await first.arrayBuffer()).byteLength
    const scenarios: [ReadScenario, ...ReadScenario[]] = [
      {
        id: 'whoami',
        figure: 'GET /api/v1/whoami (API key)',
        path: '/api/v1/whoami',
        request: { headers: auth },
        status: 200,
      },
      {
        id: 'prompt',
        figure: `GET /api/v1/prompts/:name (200, ${bodyBytes} B)`,
        path: plain,
        request: { headers: auth },
        status: 200,
      },
      {
        id: 'compiled',
        figure: 'GET /api/v1/prompts/:name?var.… (compiled, 200)',
        path: compiled,
        request: { headers: auth },
        status: 200,
      },
      {
        id: 'prompt304',
        figure: 'GET /api/v1/prompts/:name (If-None-Match → 304)',
        path: plain,
        request: { headers: { ...auth, 'if-none-match': etag } },
        status: 304,
      },
    ]
    const rows = await readsAgainstBaseline(server, scenarios, {
      label: 'prompts',
      minRatio: READ_MIN_RATIO,
      log,
      failed,
    })
    return rows
  } finally {
    await server.stop()
  }
}

// --- 2. score drop → label moved ------------------------------------------------------------------

async function rollbackFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
  failed: string[],
): Promise<string[][]> {
  const env = envFor(dir, base, 'prompts-rollback')
  const server = await startHomeostat('homeostat (prompt rollback)', env)
  try {
    const operator = benchKey(env, 'operator')
    const ingest = benchKey(env, 'viewer', 'ingest')
    const templates = (await apiCall(`${server.url}/api/v1/alert-rule-templates`, operator))!.items as {
      id: string
      rule: Record<string, unknown>
    }[]
    await apiCall(
      `${server.url}/api/v1/alert-rules`,
      operator,
      'POST',
      templates.find((x) => x.id === 'prompt-performance-drop')!.rule,
      201,
    )
    await apiCall(`${server.url}/api/v1/healing/rule-templates/prompt-performance-drop`, operator, 'POST', {}, 201)
    const names = Array.from({ length: TRIALS }, (_, i) => `bench-prompt-${i}`)
    for (const name of names) await addPrompt(server.url, operator, name)
    // The rule is stamped to the millisecond, alerts to the second: the first breach waits out the second.
    await sleep(1100)
    const times: number[] = []
    await Promise.all(
      names.map(async (name) => {
        await sleep(Math.random() * 1000)
        const t0 = Date.now()
        const points = [0.2, 0.25, 0.15].map((value, i) => ({
          name: 'prompt_score',
          labels: { prompt: name, version: '2' },
          value,
          ts: t0 + i,
        }))
        await apiCall(`${server.url}/api/v1/metrics`, ingest, 'POST', { points }, 200)
        while (Date.now() - t0 < GIVE_UP_MS) {
          const r = await apiCall(`${server.url}/api/v1/prompts/${name}`, operator)
          if (r?.version === 1) {
            times.push(Date.now() - t0)
            return
          }
          await sleep(POLL_MS)
        }
        failed.push(`score drop → label moved: ${name} not rolled back within ${GIVE_UP_MS / 1000} s`)
      }),
    )
    const sorted = [...times].sort((a, b) => a - b)
    if (!sorted.length) return []
    log(
      `  score drop → label moved: ${sorted.length} of ${TRIALS}, p50 ${fmt(pct(sorted, 0.5))} ms, p95 ${fmt(pct(sorted, 0.95))} ms`,
    )
    const p95 = pct(sorted, 0.95)
    return [
      [`score drop → label moved p50 (${sorted.length} prompts)`, `${fmt(pct(sorted, 0.5))} ms`, '—', '', ''],
      [
        `score drop → label moved p95 (${sorted.length} prompts)`,
        `${fmt(p95)} ms`,
        `< ${ROLLBACK_P95_MAX_MS} ms`,
        '',
        verdict(p95 < ROLLBACK_P95_MAX_MS),
      ],
      [`score drop → label moved max`, `${fmt(sorted.at(-1)!)} ms`, '—', '', ''],
    ]
  } finally {
    await server.stop()
  }
}

/** Every prompt registry figure, one part after the other. */
export async function promptFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  rows.push(...(await readFigures(dir, base, log, failed)))
  rows.push(...(await rollbackFigures(dir, base, log, failed)))
  return { rows, failed }
}
