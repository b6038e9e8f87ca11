/**
 * The bench's backup figures (BENCH_ONLY=backups): a database of 1M points (seed.ts, rollups skipped),
 * then in the same run
 *   - a bare `sqlite3 <db> ".backup <file>"` of the same file: the baseline throughput (MB/s of database);
 *   - the floor under any snapshot the issue asks for: that `.backup` followed by sqlite3's own
 *     `PRAGMA integrity_check` of the copy (the verify cannot skip it), and its ratio to the baseline;
 *   - Homeostat's snapshot + verify through the API (VACUUM INTO, then gzip beside the copy's integrity
 *     check and counts, the fsynced write, the read-back decoded whole; docs/adr/0009), its throughput
 *     and its ratio to the baseline (target ≥ 0.5×);
 *   - the server's peak RSS while it runs (target < 200 MB);
 *   - single-point ingest p99 during a snapshot against the same load without one (target ≤ 2×);
 *   - the restore drill of that snapshot (target < 60 s).
 * The server runs with jobs off (nothing but the load and the backups). Returns table rows; asserts nothing.
 */
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { singlePoint } from './ingest.ts'
import { BUN, findProcess, load, rssMb, runCommand, sleep, startHomeostat } from './lib.ts'
import { fmt } from './lib.ts'

export const SNAPSHOT_MIN_RATIO = 0.5
export const SNAPSHOT_RSS_MAX_MB = 200
export const INGEST_P99_MAX_RATIO = 2
export const DRILL_MAX_S = 60

const mb = (bytes: number) => bytes / 1024 / 1024
const LOAD_SECONDS = Number(process.env.BENCH_BACKUP_LOAD_SECONDS ?? 8)
const CONNECTIONS = 10
const ROUNDS = 3
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

type BackupOut = { id: string; status: string; size: number; durationMs: number; verifyMs: number; error?: string }

export async function backupFigures(dir: string, baseEnv: Record<string, string>, log: (line: string) => void) {
  const data = join(dir, 'backups')
  const dbFile = join(data, 'homeostat.db')
  const env = { ...baseEnv, DATA_DIR: data, DATABASE_URL: `file:${dbFile}` }
  log('  backups: seeding 1 000 000 points (no rollups)…')
  runCommand(BUN, ['tests/bench/seed.ts'], { ...env, SEED_ROLLUPS: '0' }, 15 * 60_000)
  const dbBytes = statSync(dbFile).size
  log(`  backups: database ${fmt(mb(dbBytes), 1)} MB`)

  // The baseline: SQLite's own online backup of the same file, by the sqlite3 shell. And the floor
  // under any snapshot the issue asks for: that copy plus `PRAGMA integrity_check` of it, by sqlite3
  // itself (no compression, hashing or read-back). Three rounds each; medians.
  const bare = join(data, 'bare.db')
  const bareRounds: number[] = []
  const floorRounds: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    rmSync(bare, { force: true })
    const bareStart = performance.now()
    runCommand('sqlite3', [dbFile, `.backup '${bare}'`], {}, 10 * 60_000)
    const copied = performance.now()
    const check = runCommand('sqlite3', [bare, 'PRAGMA integrity_check'], {}, 10 * 60_000)
    if (check !== 'ok') throw new Error(`integrity_check of the bare copy: ${check}`)
    bareRounds.push((copied - bareStart) / 1000)
    floorRounds.push((performance.now() - bareStart) / 1000)
  }
  rmSync(bare, { force: true })
  const bareSeconds = median(bareRounds)
  const floorSeconds = median(floorRounds)
  const bareMbps = mb(dbBytes) / bareSeconds

  // Jobs off: with the rollups skipped when seeding, the rollup job would spend the run catching up on
  // 1M points beside the figures (the backups here are started through the API, not by the schedule).
  const server = await startHomeostat('homeostat (backups)', { ...env, JOBS_ENABLED: 'false' })
  const pid = findProcess(server.pid, /bun/)
  const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench-backups', '--role', 'operator'], env)
  const ingestKey = runCommand(
    BUN,
    ['app/cli.ts', 'keys', 'create', '--name', 'bench-ingest', '--role', 'viewer', '--scope', 'ingest'],
    env,
  )
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const post = async (path: string, body: unknown) => {
    const res = await fetch(server.url + path, { method: 'POST', headers, body: JSON.stringify(body) })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const ingest = () =>
    load(`${server.url}/api/v1/metrics`, singlePoint(ingestKey), {
      connections: CONNECTIONS,
      seconds: LOAD_SECONDS,
      warmupSeconds: 1,
    })

  // Snapshots alone: time and throughput (median of three), and the RSS peak sampled every 50 ms.
  let peak = rssMb(pid)
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssMb(pid))
      await sleep(50)
    }
  })()
  const snapshots: { seconds: number; out: BackupOut }[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now()
    const res = await post('/api/v1/backups', { wait: true })
    if (res.status !== 201) throw new Error(`snapshot failed: ${res.status} ${JSON.stringify(res.body)}`)
    snapshots.push({ seconds: (performance.now() - start) / 1000, out: res.body as unknown as BackupOut })
  }
  sampling = false
  await sampler
  const seconds = median(snapshots.map((s) => s.seconds))
  const b = snapshots.find((s) => s.seconds === seconds)!.out
  const mbps = mb(dbBytes) / seconds
  const list = (xs: number[]) => xs.map((x) => fmt(x, 2)).join(' / ')
  log(
    `  backups: snapshot + verify ${list(snapshots.map((s) => s.seconds))} s ` +
      `(median: write ${fmt(b.durationMs / 1000, 2)} s, verify ${fmt(b.verifyMs / 1000, 2)} s), ` +
      `stored ${fmt(mb(b.size), 1)} MB`,
  )
  log(`  backups: sqlite3 .backup ${list(bareRounds)} s; with integrity_check of the copy ${list(floorRounds)} s`)

  // Ingest p99 with and without a snapshot running beside it (same load, same server), after one
  // discarded run: the first load on a fresh server pays for its warm-up (JIT, caches, the inbox).
  await ingest()
  const quiet = await ingest()
  const during = ingest()
  await sleep(1500) // past the warm-up: the snapshot runs inside the measured window
  const snap = post('/api/v1/backups', { wait: true })
  const loaded = await during
  const second = await snap
  if (second.status !== 201) throw new Error(`snapshot under load failed: ${JSON.stringify(second.body)}`)
  log(
    `  backups: ingest p99 ${fmt(quiet.p99)} ms quiet, ${fmt(loaded.p99)} ms during a snapshot ` +
      `(${fmt(quiet.rps)} vs ${fmt(loaded.rps)} req/s)`,
  )

  const drill = await post('/api/v1/backups/drill', { backupId: b.id })
  const drillS = Number(drill.body.durationMs ?? Number.NaN) / 1000
  await server.stop()

  const ratio = mbps / bareMbps
  const p99Ratio = loaded.p99 / Math.max(quiet.p99, 1)
  return {
    rows: [
      ['sqlite3 .backup (baseline)', `${fmt(bareSeconds, 2)} s, ${fmt(bareMbps, 0)} MB/s`, '—', '', ''],
      [
        'Floor: .backup + integrity_check',
        `${fmt(floorSeconds, 2)} s, ${fmt(mb(dbBytes) / floorSeconds, 0)} MB/s`,
        '—',
        `${fmt(bareSeconds / floorSeconds, 2)}×`,
        '',
      ],
      [
        'Snapshot + verify, 1M points',
        `${fmt(seconds, 2)} s, ${fmt(mbps, 0)} MB/s`,
        `≥ ${SNAPSHOT_MIN_RATIO}× sqlite3`,
        `${fmt(ratio, 2)}×`,
        ratio >= SNAPSHOT_MIN_RATIO ? 'pass' : 'MISS',
      ],
      [
        'Server RSS during snapshot (peak)',
        `${fmt(peak, 1)} MB`,
        `< ${SNAPSHOT_RSS_MAX_MB} MB`,
        '',
        peak < SNAPSHOT_RSS_MAX_MB ? 'pass' : 'MISS',
      ],
      [
        'Ingest p99 during snapshot',
        `${fmt(loaded.p99)} ms (quiet ${fmt(quiet.p99)} ms)`,
        `≤ ${INGEST_P99_MAX_RATIO}× quiet`,
        `${fmt(p99Ratio, 2)}×`,
        p99Ratio <= INGEST_P99_MAX_RATIO ? 'pass' : 'MISS',
      ],
      [
        'Restore drill of that snapshot',
        `${fmt(drillS, 2)} s`,
        `< ${DRILL_MAX_S} s`,
        '',
        drill.status === 200 && drillS < DRILL_MAX_S ? 'pass' : 'MISS',
      ],
    ],
    failed: drill.status === 200 ? [] : [`backup drill: ${JSON.stringify(drill.body)}`],
  }
}
