/**
 * The database locked by another process (`BENCH_ONLY=locked`, issue 24, ADR 0027), on a Homeostat
 * of its own (Bun, empty DB, jobs on). A liveness prober asks GET /health every 100 ms, one request
 * at a time (as a load balancer does), while WRITERS agents (default 4) each post one point after
 * another. First LOCK_SECONDS (default 10) with nothing else on the file (the baseline), then the
 * same with this process holding the file's write lock (BEGIN EXCLUSIVE and a write), then it lets
 * go. Figures: /health latency p50 / p95 / max while unlocked and while locked (ratio locked to
 * unlocked), the writes answered during the lock and how long their 503 took (median), and the
 * time from the release to the first write taken again.
 *
 * Before ADR 0027 every write on the server's thread waited out the 5 s busy timeout in turn, so
 * /health waited behind them. Returns table rows and what failed to run; asserts nothing.
 */
import Database from 'libsql'
import { benchKey, type Env, envFor, fmt, pct, sleep, startHomeostat } from './lib.ts'

const LOCK_SECONDS = Number(process.env.LOCK_SECONDS ?? 10)
const WRITERS = Number(process.env.LOCK_WRITERS ?? 4)

type Sample = { at: number; ms: number; status: number }

/** Runs `once` back to back (or every `everyMs`) until `stop()` is true, recording each answer. */
async function repeat(once: () => Promise<number>, stop: () => boolean, everyMs = 0): Promise<Sample[]> {
  const out: Sample[] = []
  while (!stop()) {
    const at = Date.now()
    const t0 = performance.now()
    let status = 0
    try {
      status = await once()
    } catch {
      status = 0 // cut off by the client's timeout
    }
    out.push({ at, ms: performance.now() - t0, status })
    const left = everyMs - (performance.now() - t0)
    if (left > 0) await sleep(left)
  }
  return out
}

const latencies = (samples: Sample[]) => samples.map((s) => s.ms).sort((a, b) => a - b)
const ms = (n: number | undefined) => (n === undefined ? '—' : `${fmt(n, 1)} ms`)

export async function lockedFigures(dir: string, base: Env, log: (line: string) => void) {
  const rows: string[][] = []
  const failed: string[] = []
  const env = envFor(dir, base, 'locked', { MODEL_ROUTE_PROBE_INTERVAL_SECONDS: '0' })
  const server = await startHomeostat('homeostat (locked)', env)
  try {
    const key = benchKey(env, 'operator', 'ingest')
    let n = 0
    const write = async () => {
      const res = await fetch(`${server.url}/api/v1/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ points: [{ name: 'lock_bench', labels: { w: String(n % WRITERS) }, value: n++ }] }),
        signal: AbortSignal.timeout(60_000),
      })
      await res.arrayBuffer()
      return res.status
    }
    const health = async () => {
      const res = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(60_000) })
      await res.arrayBuffer()
      return res.status
    }
    // One phase: the prober and the writers for LOCK_SECONDS, with `during` around it.
    const phase = async (hold: boolean) => {
      const path = env.DATABASE_URL!.slice('file:'.length)
      const lock = hold ? new Database(path) : undefined
      if (lock) {
        lock.exec('PRAGMA busy_timeout=10000')
        lock.exec('BEGIN EXCLUSIVE')
        lock.exec('CREATE TABLE bench_lock (x)')
      }
      const start = Date.now()
      let released = 0
      const over = () => Date.now() - start >= LOCK_SECONDS * 1000
      const probes = repeat(health, over, 100)
      const writers = Array.from({ length: WRITERS }, () => repeat(write, over))
      while (!over()) await sleep(50)
      if (lock) {
        lock.exec('ROLLBACK')
        lock.close()
        released = Date.now()
      }
      // Writes answered before the release (one in flight at the release is answered after it).
      const writes = (await Promise.all(writers)).flat().filter((w) => !released || w.at + w.ms < released)
      // After the release: the first write taken again, counted from the release.
      let resumedMs: number | undefined
      if (released)
        for (let i = 0; i < 600 && resumedMs === undefined; i++) {
          if ((await write()) < 300) resumedMs = Date.now() - released
          else await sleep(50)
        }
      return { probes: await probes, writes, resumedMs }
    }
    const free = await phase(false)
    const locked = await phase(true)
    for (const [name, p] of [
      ['unlocked', free],
      ['locked', locked],
    ] as const) {
      const h = latencies(p.probes)
      const refused = p.writes.filter((w) => w.status === 503)
      log(
        `  ${name}: /health ${p.probes.length} answers (p50 ${ms(pct(h, 0.5))}, max ${ms(h.at(-1))}); ` +
          `writes ${p.writes.length} (${refused.length} × 503, ${p.writes.filter((w) => w.status < 300).length} × 2xx)`,
      )
      if (p.probes.some((s) => s.status !== 200)) failed.push(`/health while ${name}: not every answer was 200`)
    }
    const hf = latencies(free.probes)
    const hl = latencies(locked.probes)
    const ratio = (q: number) => `${fmt(pct(hl, q) / Math.max(pct(hf, q), 0.001), 1)}×`
    for (const [label, q] of [
      ['p50', 0.5],
      ['p95', 0.95],
      ['max', 1],
    ] as const)
      rows.push([
        `/health ${label} during a ${LOCK_SECONDS} s write lock (unlocked: ${ms(pct(hf, q))})`,
        ms(pct(hl, q)),
        '—',
        ratio(q),
        '',
      ])
    rows.push([`/health answers during the lock (one every 100 ms at most)`, fmt(locked.probes.length), '—', '', ''])
    const refused = locked.writes.filter((w) => w.status === 503)
    rows.push([
      `writes answered during the lock (${WRITERS} writers): 503s, their median`,
      `${fmt(refused.length)}, ${ms(pct(latencies(refused), 0.5))}`,
      '—',
      '',
      '',
    ])
    rows.push(['first write taken after the release', ms(locked.resumedMs), '—', '', ''])
    if (locked.resumedMs === undefined) failed.push('writes did not resume within 30 s of the release')
    if (locked.writes.some((w) => w.status !== 503 && w.status >= 300))
      failed.push('a write during the lock answered something other than 503')
  } finally {
    await server.stop()
  }
  return { rows, failed }
}
