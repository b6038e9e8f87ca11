/**
 * Memory under a backfill (`BENCH_ONLY=backfill`): what a new user does on day one. An agent fleet is
 * already pushing live (one point now, and the rollups have run up to now), then six hours of its
 * history arrive through `POST /api/v1/metrics`: 1,000 series (200 agents × 5 hosts) every 15 s,
 * 1.44 M points in 144 requests of 10,000, one client, oldest first. Every point lands behind the
 * rollup watermark, so the rollup job rebuilds the history from dirty marks while ingest goes on.
 *
 * Then days of history before those six hours arrive the same way (BACKFILL_DAYS, default 2: 200
 * series a point a minute, 576,000 points): older than every stored chunk, so each move writes behind
 * newer data, and every minute, hour and day of the span is rebuilt.
 *
 * Figures: backfill points/s; server RSS sampled every 100 ms (peak during, and 30 s after the last
 * request) against the same server's RSS before it (the baseline in this run); the time from the last
 * request until every rollup is rebuilt; and the rollup catch-up after a day offline (catchup.ts: the
 * same fleet's 24 hours, every tier built from a day behind, < 60 s). Returns rows; asserts nothing.
 */
import { createClient } from '@libsql/client'
import {
  BUN,
  benchKey,
  type Env,
  envFor,
  fmt,
  pct,
  profileFlags,
  rssMb,
  runCommand,
  sleep,
  startHomeostat,
  verdict,
} from './lib.ts'

const SERIES = 1000
const STEP_MS = 15_000
const HOURS = Number(process.env.BACKFILL_HOURS ?? 6)
const DAYS = Number(process.env.BACKFILL_DAYS ?? 2)
const DAYS_SERIES = 200
const DAYS_STEP_MS = 60_000
const PER_REQUEST = 10_000
const RSS_MAX_MB = 200
const SETTLE_MS = 30_000
const QUERIES = 20
const CATCHUP_MAX_S = 60

export async function backfillFigures(dir: string, base: Env, log: (line: string) => void) {
  const env = envFor(dir, base, 'backfill')
  const server = await startHomeostat('homeostat (backfill)', env, profileFlags())
  const db = createClient({ url: env.DATABASE_URL! })
  try {
    const key = benchKey(env, 'operator')
    const post = async (body: string) => {
      const res = await fetch(`${server.url}/api/v1/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      })
      if (!res.ok) throw new Error(`backfill: ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
    }
    const now = Date.now()
    const point = (s: number, ts: number, value: number) =>
      `{"name":"agent_latency_ms","value":${value},"labels":{"agent":"agent-${s % 200}","host":"host-${s % 5}-${s}"},"ts":${ts}}`
    await post(`{"points":[${point(0, now - 60_000, 1)}]}`)
    // The live fleet's rollups reach the present first (the job runs every 30 s).
    const minuteMark = async () =>
      Number(
        (await db.execute('select watermark from rollup_watermarks where resolution = 60')).rows[0]?.watermark ?? 0,
      )
    for (let i = 0; i < 80 && !(await minuteMark()); i++) await sleep(500)
    const before = rssMb(server.pid)
    log(`  backfill: ${fmt((HOURS * 3_600_000 * SERIES) / STEP_MS)} points of ${HOURS} h behind the watermark…`)

    let peak = before
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(server.pid))), 100)
    // Oldest first, PER_REQUEST points a request, every series at each step.
    const push = async (from: number, to: number, series: number, step: number) => {
      const t0 = performance.now()
      let sent = 0
      for (let ts = from; ts < to; ) {
        const parts: string[] = []
        for (; parts.length < PER_REQUEST && ts < to; ts += step)
          for (let s = 0; s < series; s++) parts.push(point(s, ts, (s * 7 + ts / step) % 1000))
        await post(`{"points":[${parts.join(',')}]}`)
        sent += parts.length
      }
      return { sent, seconds: (performance.now() - t0) / 1000 }
    }
    // Seconds from now until the inbox is moved and every dirty bucket rebuilt (NaN: not in 10 min),
    // then the rest of SETTLE_MS; returns the RSS peak since `peak` was last reset, and the RSS then.
    const settle = async () => {
      const ended = performance.now()
      let drained = Number.NaN
      for (let i = 0; i < 1200; i++) {
        const dirty = Number((await db.execute('select count(*) as n from rollup_dirty')).rows[0]!.n)
        const inbox = Number((await db.execute('select count(*) as n from point_batches')).rows[0]!.n)
        if (!dirty && !inbox) {
          drained = (performance.now() - ended) / 1000
          break
        }
        await sleep(500)
      }
      await sleep(Math.max(0, SETTLE_MS - (performance.now() - ended)))
      return { drained, during: peak, after: rssMb(server.pid) }
    }
    const start = now - HOURS * 3_600_000
    const { sent, seconds } = await push(start, now - 60_000, SERIES, STEP_MS)
    const { drained, during, after } = await settle()
    const minutes = Number((await db.execute('select coalesce(sum(n), 0) as n from rollup_minutes')).rows[0]!.n)
    log(`  backfill: ${fmt(sent)} points in ${fmt(seconds, 1)} s; ${fmt(minutes)} 1-minute rollups`)
    // Days of history behind what is stored (older than every chunk), the sampler's peak started again.
    let days: { sent: number; seconds: number; drained: number; during: number; after: number } | undefined
    if (DAYS > 0) {
      log(`  backfill: ${fmt((DAYS * 86_400_000 * DAYS_SERIES) / DAYS_STEP_MS)} points of ${DAYS} days before them…`)
      peak = rssMb(server.pid)
      const pushed = await push(start - DAYS * 86_400_000, start, DAYS_SERIES, DAYS_STEP_MS)
      days = { ...pushed, ...(await settle()) }
    }
    // The queries last: what they hold is not counted as the backfill's.
    peak = rssMb(server.pid)
    // The fleet query of issue 23 on this data: p95 by agent (200 series of 5) over the 6 hours, and
    // the same query for one series as the baseline.
    const timeQuery = async (match: string) => {
      const url = `${server.url}/api/v1/metrics/query?name=agent_latency_ms&from=${start}&to=${now}&step=5m&agg=p95${match}`
      const times: number[] = []
      for (let i = 0; i < QUERIES; i++) {
        const t = performance.now()
        const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } })
        if (!res.ok) throw new Error(`query: ${res.status} ${await res.text()}`)
        await res.arrayBuffer()
        times.push(performance.now() - t)
      }
      return pct(
        times.sort((a, b) => a - b),
        0.95,
      )
    }
    const fleetMs = await timeQuery('&by=agent')
    const oneMs = await timeQuery('&match[agent]=agent-1&match[host]=host-1-1')
    const queryPeak = peak
    clearInterval(sampler)
    const failed: string[] = []
    if (during >= RSS_MAX_MB) failed.push(`backfill peak RSS ${fmt(during)} MB`)
    if (after >= RSS_MAX_MB) failed.push(`backfill RSS after ${fmt(after)} MB`)
    if (days && days.during >= RSS_MAX_MB) failed.push(`backfill of days: peak RSS ${fmt(days.during)} MB`)
    if (days && days.after >= RSS_MAX_MB) failed.push(`backfill of days: RSS after ${fmt(days.after)} MB`)
    const rows = [
      [
        `backfill ${fmt(sent / 1e6, 2)} M points (${HOURS} h × ${fmt(SERIES)} series)`,
        `${fmt(sent / seconds)} points/s`,
        '—',
        '',
        '',
      ],
      [
        '  server RSS peak during the backfill',
        `${fmt(during)} MB`,
        `${fmt(before)} MB before`,
        `< ${RSS_MAX_MB} MB`,
        verdict(during < RSS_MAX_MB),
      ],
      [
        `  server RSS ${SETTLE_MS / 1000} s after`,
        `${fmt(after)} MB`,
        `${fmt(before)} MB before`,
        `< ${RSS_MAX_MB} MB`,
        verdict(after < RSS_MAX_MB),
      ],
      [
        '  rollups rebuilt, after the last request',
        Number.isNaN(drained) ? 'not within 10 min' : `${fmt(drained, 1)} s`,
        `${fmt(minutes)} 1m buckets`,
        '',
        '',
      ],
    ]
    rows.push([
      `query p95 by agent, ${HOURS} h, 200 agents × 5 series, p95`,
      `${fmt(fleetMs, 1)} ms`,
      `${fmt(oneMs, 1)} ms one series`,
      '< 100 ms',
      verdict(fleetMs < 100),
    ])
    rows.push(['  server RSS peak during these queries', `${fmt(queryPeak)} MB`, '', '', ''])
    if (days)
      rows.push(
        [
          `backfill of ${DAYS} days before them, ${fmt(days.sent / 1e6, 2)} M points (${DAYS_SERIES} series, 1 min)`,
          `${fmt(days.sent / days.seconds)} points/s`,
          '—',
          '',
          '',
        ],
        [
          '  server RSS peak during it',
          `${fmt(days.during)} MB`,
          '',
          `< ${RSS_MAX_MB} MB`,
          verdict(days.during < RSS_MAX_MB),
        ],
        [
          `  server RSS ${SETTLE_MS / 1000} s after`,
          `${fmt(days.after)} MB`,
          '',
          `< ${RSS_MAX_MB} MB`,
          verdict(days.after < RSS_MAX_MB),
        ],
        [
          '  rollups rebuilt, after the last request',
          Number.isNaN(days.drained) ? 'not within 10 min' : `${fmt(days.drained, 1)} s`,
          '',
          '',
          '',
        ],
      )
    // Rollup catch-up after a day offline: the same fleet's 24 h as chunks, the job a day behind (catchup.ts).
    const catchupEnv = envFor(dir, base, 'backfill-catchup')
    const caught = JSON.parse(
      runCommand(BUN, ['tests/bench/catchup.ts'], catchupEnv, 15 * 60_000)
        .split('\n')
        .at(-1)!,
    ) as { points: number; seconds: number; steps: number }
    log(`  backfill: catch-up of ${fmt(caught.points)} points in ${fmt(caught.seconds, 1)} s (${caught.steps} steps)`)
    if (caught.seconds >= CATCHUP_MAX_S) failed.push(`rollup catch-up after a day ${fmt(caught.seconds, 1)} s`)
    rows.push([
      `rollup catch-up after a day offline (${fmt(SERIES)} series × 15 s × 24 h, all tiers)`,
      `${fmt(caught.seconds, 1)} s`,
      `${fmt(caught.points / 1e6, 2)} M points`,
      `< ${CATCHUP_MAX_S} s`,
      verdict(caught.seconds < CATCHUP_MAX_S),
    ])
    return { rows, failed }
  } finally {
    db.close()
    await server.stop()
  }
}
