/**
 * The bench's query figures: seed a database (tests/bench/seed.ts, with Bun, before the server
 * starts), start Homeostat on it, then time one-series 30-day queries and the overview one request
 * at a time, and read the server's memory. Returns table rows; asserts nothing.
 */
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { COMPONENTS, componentName, seriesOf } from './dataset.ts'
import { BUN, findProcess, rssMb, runCommand, sequentialLatency, startHomeostat } from './lib.ts'
import { fmt } from './lib.ts'

export const QUERY_P95_MAX_MS = 50
export const OVERVIEW_P95_MAX_MS = 200
export const DATA_RSS_MAX_MB = 150

type Seeded = {
  points: number
  series: number
  rollups: Record<'1m' | '1h' | '1d', number>
  writeSeconds: number
  rollupSeconds: number
  rollupSteps: number
  bytes: number
  tables?: Record<string, number>
}

const mb = (bytes: number) => bytes / 1024 / 1024

/**
 * What a data set is called in the table, its RSS target, its seed's knobs (seed.ts SEED_*) and, when
 * it is not seed.ts (through the write path, rollups timed from scratch), the seed script: the data
 * group's by default.
 */
export type DataShape = {
  name: string
  label: string
  rssMaxMb: number
  seed: Record<string, string>
  script?: string
  /** Also time the rollup job's ticks that build a minute, and the 30-day query while one runs. */
  rollupTick?: boolean
}
const DATA: DataShape = { name: 'data', label: '', rssMaxMb: DATA_RSS_MAX_MB, seed: {} }

export async function dataFigures(
  dir: string,
  baseEnv: Record<string, string>,
  log: (line: string) => void,
  shape: DataShape = DATA,
) {
  const { name, label } = shape
  const env = { ...baseEnv, DATA_DIR: join(dir, name), DATABASE_URL: `file:${join(dir, name, 'homeostat.db')}` }
  log(`  ${name}: seeding (${shape.script ?? 'points through the store, then rollups from scratch'})…`)
  const out = runCommand(BUN, [shape.script ?? 'tests/bench/seed.ts'], { ...env, ...shape.seed }, 30 * 60_000)
  const seeded = JSON.parse(out.split('\n').at(-1)!) as Seeded
  log(
    `  ${name}: ${fmt(seeded.points)} points over ${fmt(seeded.series)} series written in ${fmt(seeded.writeSeconds, 1)}s; rollups (${fmt(seeded.rollups['1m'])} 1m, ${fmt(seeded.rollups['1h'])} 1h, ${fmt(seeded.rollups['1d'])} 1d) in ${fmt(seeded.rollupSeconds, 1)}s`,
  )
  if (seeded.tables)
    log(
      `  ${name}: file ${fmt(mb(seeded.bytes), 1)} MB: ${Object.entries(seeded.tables)
        .slice(0, 5)
        .map(([name, bytes]) => `${name} ${fmt(mb(bytes), 1)} MB`)
        .join(', ')}`,
    )

  const server = await startHomeostat(`homeostat (${name})`, env)
  const pid = findProcess(server.pid, /bun/)
  // RSS sampled while the queries run, not only read after them.
  let peak = rssMb(pid)
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100)
  const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', `bench-${name}`, '--role', 'operator'], env)
  const headers = { authorization: `Bearer ${key}` }
  // The overview lists components: one push component per `component` label in the data.
  for (let n = 0; n < COMPONENTS; n++) {
    const res = await fetch(`${server.url}/api/v1/components`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: componentName(n), kind: 'agent', push: { expectedIntervalSeconds: 300 } }),
    })
    if (res.status !== 201) throw new Error(`creating component ${componentName(n)}: ${res.status} ${await res.text()}`)
  }

  const get = async (path: string, check: (body: any) => boolean) => {
    const res = await fetch(server.url + path, { headers })
    const body = await res.json()
    if (res.status !== 200 || !check(body))
      throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`)
  }
  // A different series each time (spread over all 100 metric names), so no answer is cached.
  let j = 0
  const query = () => {
    const s = seriesOf((j++ * 7919) % seeded.series)
    const to = Date.now()
    const match = Object.entries(s.labels)
      .map(([k, v]) => `&match[${k}]=${encodeURIComponent(v)}`)
      .join('')
    return get(
      `/api/v1/metrics/query?name=${s.name}${match}&from=${to - 30 * 86_400_000}&to=${to}&step=1h`,
      (b) => b.series?.length === 1 && b.series[0].values.length > 0,
    )
  }
  const q = await sequentialLatency(query, { count: 300, maxMs: 6000 })
  log(`  ${name}: 30-day query ×${q.count}: p50 ${fmt(q.p50, 1)} ms, p95 ${fmt(q.p95, 1)} ms`)
  const o = await sequentialLatency(
    () => get('/api/v1/metrics/overview?range=24h', (b) => b.components?.length === COMPONENTS),
    { count: 60, maxMs: 8000 },
  )
  log(`  ${name}: overview 24h ×${o.count}: p50 ${fmt(o.p50, 1)} ms, p95 ${fmt(o.p95, 1)} ms`)
  // The Prometheus query API on the same data: a PromQL selector for a different series each time.
  const selector = () => {
    const s = seriesOf((j++ * 7919) % seeded.series)
    return `${s.name}{${Object.entries(s.labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`
  }
  const promql = (path: string, params: Record<string, string>) =>
    get(`${path}?${new URLSearchParams(params)}`, (b) => b.status === 'success' && b.data.result.length <= 1)
  const hour = 3_600_000
  const pi = await sequentialLatency(
    () => promql('/api/v1/query', { query: `max_over_time(${selector()}[1h])`, time: String(Date.now() / 1000) }),
    { count: 300, maxMs: 6000 },
  )
  log(`  ${name}: PromQL instant max_over_time[1h] ×${pi.count}: p50 ${fmt(pi.p50, 1)} ms, p95 ${fmt(pi.p95, 1)} ms`)
  // Hour-aligned [1h] windows at a 1h step: the rollups' path (what Grafana's [$__interval] panels send).
  const pr = await sequentialLatency(
    () => {
      const end = Math.floor(Date.now() / hour) * hour
      return promql('/api/v1/query_range', {
        query: `sum_over_time(${selector()}[1h])`,
        start: String((end - 30 * 86_400_000) / 1000),
        end: String(end / 1000),
        step: '1h',
      })
    },
    { count: 300, maxMs: 6000 },
  )
  log(
    `  ${name}: PromQL range 30d sum_over_time[1h] step 1h ×${pr.count}: p50 ${fmt(pr.p50, 1)} ms, p95 ${fmt(pr.p95, 1)} ms`,
  )
  const tick = shape.rollupTick ? await queriesDuringRollupTick(env.DATABASE_URL, query, log, name) : undefined
  clearInterval(sampler)
  const rss = rssMb(pid)
  peak = Math.max(peak, rss)
  await server.stop()

  const perMillion = seeded.bytes / (seeded.points / 1e6)
  const pointBytes = seeded.tables?.points
  const verdict = (ok: boolean) => (ok ? 'pass' : 'MISS')
  const rows: string[][] = [
    [
      `${label}query 30d, one series (1h step) p95`,
      `${fmt(q.p95, 1)} ms`,
      `< ${QUERY_P95_MAX_MS} ms`,
      '',
      verdict(q.p95 < QUERY_P95_MAX_MS),
    ],
    [
      `${label}overview ?range=24h p95`,
      `${fmt(o.p95, 1)} ms`,
      `< ${OVERVIEW_P95_MAX_MS} ms`,
      '',
      verdict(o.p95 < OVERVIEW_P95_MAX_MS),
    ],
    [`${label}PromQL instant, one series, max_over_time[1h] p95`, `${fmt(pi.p95, 1)} ms`, '—', '', ''],
    [`${label}PromQL range 30d, one series, sum_over_time[1h] step 1h p95`, `${fmt(pr.p95, 1)} ms`, '—', '', ''],
    // A seed that writes the tables directly (seed-direct.ts) times neither the write path nor the catch-up.
    ...(shape.script
      ? []
      : [
          [
            `${label}rollup catch-up from scratch (${seeded.rollupSteps} steps)`,
            `${fmt(seeded.rollupSeconds, 1)} s`,
            '—',
            '',
            '',
          ],
          [`${label}seed write through the store`, `${fmt(seeded.points / seeded.writeSeconds)} points/s`, '—', '', ''],
        ]),
    ...(tick
      ? [
          [
            `${label}rollup job tick building a minute (${tick.ticks} ticks)`,
            tick.ticks ? `${fmt(tick.longest / 1000, 2)} s` : 'no tick',
            tick.ticks ? `median ${fmt(tick.median / 1000, 2)} s` : '',
            '',
            '',
          ],
          [
            `${label}  query 30d p95 while a tick runs (×${tick.during.length})`,
            tick.during.length ? `${fmt(tick.duringP95, 1)} ms` : 'none overlapped',
            `${fmt(tick.otherP95, 1)} ms between ticks (×${tick.other})`,
            '',
            '',
          ],
        ]
      : []),
    [`${label}DB size per 1M points (with rollups)`, `${fmt(mb(perMillion), 1)} MB`, '—', '', ''],
    ...(pointBytes
      ? [['  of which raw points table', `${fmt(mb(pointBytes / (seeded.points / 1e6)), 1)} MB`, '—', '', '']]
      : []),
    [
      `${label}server RSS with the data, after queries`,
      `${fmt(rss, 1)} MB`,
      `< ${shape.rssMaxMb} MB`,
      '',
      verdict(rss < shape.rssMaxMb),
    ],
    [
      `${label}server RSS peak during the queries`,
      `${fmt(peak, 1)} MB`,
      `< ${shape.rssMaxMb} MB`,
      '',
      verdict(peak < shape.rssMaxMb),
    ],
  ]
  return { rows, seeded }
}

/**
 * Runs the 30-day query back to back until the rollup job has run two ticks that built a minute (at
 * most 100 s), and returns those ticks' durations (job_runs) and the query's p95 while one ran, beside
 * its p95 outside them in the same stretch.
 */
async function queriesDuringRollupTick(
  url: string,
  query: () => Promise<void>,
  log: (line: string) => void,
  name: string,
) {
  const db = createClient({ url })
  const since = Date.now()
  const times: { start: number; end: number; ms: number }[] = []
  let ticks: { started: number; finished: number; counts: string }[] = []
  try {
    for (let checked = 0; Date.now() - since < 100_000; ) {
      const start = Date.now()
      const t = performance.now()
      await query()
      times.push({ start, end: Date.now(), ms: performance.now() - t })
      if (Date.now() - checked < 2000) continue
      checked = Date.now()
      const rows = await db.execute({
        sql: "select started_at, finished_at, counts from job_runs where job = 'rollups' and started_at >= ? and finished_at is not null order by id",
        args: [since],
      })
      ticks = rows.rows
        .filter((r) => Number(JSON.parse(String(r.counts ?? '{}')).steps ?? 0) > 0)
        .map((r) => ({ started: Number(r.started_at), finished: Number(r.finished_at), counts: String(r.counts) }))
      if (ticks.length >= 2) break
    }
  } finally {
    db.close()
  }
  const overlaps = (q: { start: number; end: number }) => ticks.some((k) => q.start < k.finished && q.end > k.started)
  const p95 = (list: number[]) => {
    const sorted = list.sort((a, b) => a - b)
    return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)] ?? Number.NaN
  }
  const during = times.filter(overlaps).map((q) => q.ms)
  const other = times.filter((q) => !overlaps(q)).map((q) => q.ms)
  const durations = ticks.map((k) => k.finished - k.started).sort((a, b) => a - b)
  const result = {
    ticks: ticks.length,
    longest: durations.at(-1) ?? 0,
    median: durations[Math.floor(durations.length / 2)] ?? 0,
    during,
    duringP95: p95(during),
    other: other.length,
    otherP95: p95(other),
  }
  log(
    `  ${name}: rollup ticks building a minute: ${ticks.map((k) => `${fmt((k.finished - k.started) / 1000, 2)} s ${k.counts}`).join(', ')}; 30-day query p95 during them ${fmt(result.duringP95, 1)} ms (×${during.length}), between ${fmt(result.otherP95, 1)} ms (×${other.length})`,
  )
  return result
}
