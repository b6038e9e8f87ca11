/**
 * "Restarting the server during ingest loses no acknowledged point": writers keep posting batches
 * while the server is killed without warning (SIGKILL, no graceful shutdown); after a restart on
 * the same database every batch that got a 200 is there, point for point.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { killAll, runCli, startServer } from '../helpers/server.ts'

afterAll(() => killAll())

describe('ingest across a hard restart', () => {
  it('keeps every acknowledged point', async () => {
    const first = await startServer({ runtime: 'bun' })
    const made = await runCli(
      ['keys', 'create', '--name', 'writer', '--role', 'operator', '--scope', 'ingest'],
      first.env,
    )
    expect(made.code, made.stderr).toBe(0)
    const headers = { Authorization: `Bearer ${made.stdout.trim()}`, 'Content-Type': 'application/json' }
    const acked: number[] = [] // batch numbers that got a 200
    let batch = 0
    let stop = false
    const writer = async (w: number) => {
      while (!stop) {
        const n = batch++
        const points = Array.from({ length: 200 }, (_, i) => ({
          name: 'restart_probe',
          labels: { writer: String(w) },
          value: n,
          ts: 1_700_000_000_000 + n * 1000 + i,
        }))
        try {
          const res = await fetch(`${first.url}/api/v1/metrics`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ points }),
            signal: AbortSignal.timeout(5000),
          })
          if (res.status === 200) acked.push(n)
        } catch {
          // the server died under this request: not acknowledged, may or may not be stored
        }
      }
    }
    const writers = [0, 1, 2].map(writer)
    while (acked.length < 30) await new Promise((r) => setTimeout(r, 20))
    first.child.kill('SIGKILL')
    await first.exited
    stop = true
    await Promise.all(writers)

    const second = await startServer({
      runtime: 'bun',
      env: { DATA_DIR: first.env.DATA_DIR!, DATABASE_URL: first.env.DATABASE_URL! },
    })
    const viewer = await runCli(['keys', 'create', '--name', 'reader', '--role', 'viewer'], second.env)
    const exportRes = await second.fetch(
      `/api/v1/metrics/export?format=json&name=restart_probe&from=1700000000000&to=${1_700_000_000_000 + batch * 1000 + 1000}`,
      {
        headers: { Authorization: `Bearer ${viewer.stdout.trim()}` },
      },
    )
    expect(exportRes.status).toBe(200)
    const rows = (await exportRes.json()) as { time: string; value: number }[]
    const stored = new Map<number, number>()
    for (const r of rows) stored.set(r.value, (stored.get(r.value) ?? 0) + 1)
    const missing = acked.filter((n) => stored.get(n) !== 200)
    expect(acked.length).toBeGreaterThanOrEqual(30)
    expect(missing, `acknowledged batches not fully stored: ${missing.join(', ')}`).toEqual([])
  })
})
