/**
 * Queries over a fleet, not one series (`BENCH_ONLY=fleet`, issue 23), on a Homeostat of its own
 * (jobs off) over data seeded straight into rollups first (seed-fleet.ts, seconds):
 *
 * - p95 by agent over 6 h at step 5 m: 200 series (40 agents × 5) and the backfill group's shape,
 *   1,000 series (200 × 5); target < 100 ms p95;
 * - p95 and avg by agent over 30 days at the API's default step (3 h, hourly rollups), 200 series;
 *   target < 200 ms p95;
 * - beside each, the same query for one series in the same rounds (the baseline: the ratio is what
 *   to compare across machines).
 *
 * One request at a time, interleaved across the figures so the machine's noise falls on all alike;
 * FLEET_BENCH_SAMPLES per figure (default 20) after 2 to warm up. BENCH_PROFILE_DIR profiles the
 * server. Returns table rows and what failed; asserts nothing.
 */
import { join } from 'node:path'
import { BUN, benchKey, type Env, envFor, pct, profileFlags, runCommand, startHomeostat } from './lib.ts'

const SAMPLES = Number(process.env.FLEET_BENCH_SAMPLES ?? 20)
const WARM = 2
const H = 3_600_000
const ms = (n: number) => `${n.toFixed(1)} ms`

/**
 * Bytes a stored point on the fleet shape (rollup-storage.ts: the seeded minutes and hours copied in the
 * rollup job's order into a fresh database, pages counted by dbstat) and the 90 days it projects.
 */
function storageRows(env: Env, dir: string): string[][] {
  const seeded = env.DATABASE_URL!.replace(/^file:/, '')
  const out = runCommand(
    BUN,
    ['tests/bench/rollup-storage.ts', seeded, join(dir, 'fleet-storage.db')],
    env,
    10 * 60_000,
  )
  const s = JSON.parse(out.trim().split('\n').at(-1)!) as {
    rollupBytesPerPoint: number
    allInBytesPerPoint: number
    minuteRowBytes: number
    ninetyDaysGB: Record<string, string>
  }
  const total = Number(s.ninetyDaysGB.total)
  const tiers = Object.entries(s.ninetyDaysGB)
    .filter(([k]) => k !== 'total' && k !== 'totalAt14DaysOfMinutes')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  return [
    [
      'storage, fleet shape: rollups a point (1-minute row)',
      `${s.rollupBytesPerPoint} B (${s.minuteRowBytes} B)`,
      '—',
      '',
      '',
    ],
    [
      'storage, fleet shape: all-in a stored point',
      `${s.allInBytesPerPoint} B`,
      '≤ 40 B',
      'raw at 8.8 B',
      s.allInBytesPerPoint <= 40 ? 'pass' : 'MISS',
    ],
    [
      'storage, 1,000 series × 15 s over 90 days, default retention',
      `${total} GB`,
      '≤ 2 GB',
      tiers,
      total <= 2 ? 'pass' : 'MISS',
    ],
  ]
}

export async function fleetFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  const env = envFor(dir, base, 'fleet', { JOBS_ENABLED: 'false' })
  log('fleet: seeding 1,000 series × 6 h and 200 series × 30 days of rollups')
  log(`  seeded: ${runCommand(BUN, ['tests/bench/seed-fleet.ts'], env, 10 * 60_000)}`)
  rows.push(...storageRows(env, dir))
  const server = await startHomeostat('homeostat-fleet', env, profileFlags())
  try {
    const key = benchKey(env, 'viewer')
    const query = (params: string, span: number) => () => {
      const to = Date.now()
      return fetch(`${server.url}/api/v1/metrics/query?${params}&from=${to - span}&to=${to}`, {
        headers: { Authorization: `Bearer ${key}` },
      })
    }
    const one = '&match[agent]=agent-1&match[host]=host-1-1'
    const figures = [
      { id: 'one6h', figure: 'p95, 6 h, step 5 m: one series (baseline)', target: null, base: null },
      { id: 'fleet6h', figure: 'p95 by agent, 6 h, step 5 m: 200 series', target: 100, base: 'one6h' },
      { id: 'one6hBig', figure: 'p95, 6 h, step 5 m: one series of 1,000 (baseline)', target: null, base: null },
      { id: 'backfill6h', figure: 'p95 by agent, 6 h, step 5 m: 1,000 series', target: 100, base: 'one6hBig' },
      { id: 'one30d', figure: 'p95, 30 d, default step (3 h): one series (baseline)', target: null, base: null },
      { id: 'fleet30d', figure: 'p95 by agent, 30 d, default step: 200 series', target: 200, base: 'one30d' },
      { id: 'fleet30dAvg', figure: 'avg by agent, 30 d, default step: 200 series', target: 200, base: 'one30d' },
    ].map((f) => ({ ...f, times: [] as number[] }))
    const send: Record<string, () => Promise<Response>> = {
      one6h: query(`name=fleet_latency_ms&agg=p95&step=5m${one}`, 6 * H),
      fleet6h: query('name=fleet_latency_ms&agg=p95&step=5m&by=agent', 6 * H),
      one6hBig: query(`name=agent_latency_ms&agg=p95&step=5m${one}`, 6 * H),
      backfill6h: query('name=agent_latency_ms&agg=p95&step=5m&by=agent', 6 * H),
      one30d: query(`name=fleet_latency_ms&agg=p95${one}`, 30 * 24 * H),
      fleet30d: query('name=fleet_latency_ms&agg=p95&by=agent', 30 * 24 * H),
      fleet30dAvg: query('name=fleet_latency_ms&agg=avg&by=agent', 30 * 24 * H),
    }
    for (const f of figures) {
      const res = await send[f.id]!()
      const body = (await res.json()) as { resolution?: string; series?: { values: unknown[] }[] }
      if (res.status !== 200) throw new Error(`${f.figure}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`)
      const points = (body.series ?? []).reduce((n, s) => n + s.values.length, 0)
      if (!points) throw new Error(`${f.figure}: no values (the seeded data is not read)`)
      log(`  ${f.id}: ${body.series!.length} groups, ${points} values, resolution ${body.resolution}`)
    }
    for (let i = 0; i < WARM + SAMPLES; i++)
      for (const f of figures) {
        const t0 = performance.now()
        const res = await send[f.id]!()
        await res.arrayBuffer()
        const took = performance.now() - t0
        if (res.status !== 200) failed.push(`${f.figure}: ${res.status}`)
        if (i >= WARM) f.times.push(took)
      }
    const p95Of = new Map(
      figures.map((f) => [
        f.id,
        pct(
          f.times.sort((a, b) => a - b),
          0.95,
        ),
      ]),
    )
    for (const f of figures) {
      const p95 = p95Of.get(f.id)!
      rows.push([
        `${f.figure} p50 / p95`,
        `${ms(pct(f.times, 0.5))} / ${ms(p95)}`,
        f.target ? `p95 < ${f.target} ms` : '—',
        f.base ? `${(p95 / p95Of.get(f.base)!).toFixed(1)}× one series` : 'baseline',
        f.target ? (p95 < f.target ? 'pass' : 'MISS') : '',
      ])
    }
    log(`  ${rows.map((r) => `${r[0]}: ${r[1]}`).join('; ')}`)
    return { rows, failed: [...new Set(failed)] }
  } finally {
    await server.stop()
  }
}
