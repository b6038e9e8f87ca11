/**
 * Faults, disk full: the data folder is a small tmpfs of its own (mounted for the test; we run as
 * root here and in CI). Once a filler file takes the space that is left, writes answer 507
 * `disk_full` with Retry-After and say so; reads, the dashboard and /health keep working; /ready
 * says why it is not ready. When the filler is removed writing resumes by itself — no restart —
 * every acknowledged write is there and the database passes PRAGMA integrity_check.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { api, openDbFile, signIn, startFaultServer } from '../helpers/faults.ts'
import { cliKey, delay, killAll, until } from '../helpers/server.ts'

const base = mkdtempSync(join(tmpdir(), 'homeostat-disk-full-'))
const mnt = join(base, 'data')
mkdirSync(mnt, { recursive: true })

afterAll(async () => {
  await killAll()
  // A process that just died may hold the mount for a moment; a lazy unmount is the last resort.
  for (let i = 0; i < 20; i++) {
    try {
      execFileSync('umount', [mnt], { stdio: 'ignore' })
      break
    } catch {
      if (i < 19) await delay(250)
      else
        try {
          execFileSync('umount', ['-l', mnt], { stdio: 'ignore' })
        } catch {
          // never mounted: the test's mount failed and said why
        }
    }
  }
  rmSync(base, { recursive: true, force: true })
})

const ADMIN = { email: 'disk@example.com', password: 'disk-full-password-123' }

describe('disk full', () => {
  it('refuses writes with 507 and Retry-After, keeps reads, says why in /ready, and resumes by itself', async () => {
    // tmpfs needs root (CAP_SYS_ADMIN); fail loudly rather than skip when it is not there.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt])
    const server = await startFaultServer({
      env: {
        DATA_DIR: mnt,
        DATABASE_URL: `file:${join(mnt, 'homeostat.db')}`,
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
      },
    })
    const key = await cliKey(server, 'writer', 'operator', ['ingest'])
    const call = api(server, key)
    const read = api(server, await cliKey(server, 'reader', 'viewer'))
    const { cookie, status: signedIn } = await signIn(server, ADMIN)
    expect(cookie, `sign-in: ${signedIn}`).toBeTruthy()
    const page = (path: string) =>
      server.fetch(path, { headers: { cookie: `hs_session=${cookie}`, accept: 'text/html' }, redirect: 'manual' })

    let n = 0
    const acked: number[] = []
    const write = async () => {
      const i = n++
      const points = Array.from({ length: 500 }, (_, j) => ({
        name: 'disk_probe',
        labels: { batch: String(i), pad: 'x'.repeat(200) },
        value: i,
        ts: 1_700_000_000_000 + j,
      }))
      const r = await call('POST', '/api/v1/metrics', { points })
      if (r.status === 200) acked.push(i)
      return r
    }
    expect((await write()).status).toBe(200)

    // Take every byte that is left: 1 MB chunks, then 4 kB ones, until the file system says ENOSPC.
    const filler = join(mnt, 'filler')
    const fd = openSync(filler, 'w')
    for (const size of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(size)
      try {
        for (;;) writeSync(fd, chunk)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
      }
    }
    closeSync(fd)

    let refused: Awaited<ReturnType<typeof write>> | undefined
    for (let i = 0; i < 200 && !refused; i++) {
      const r = await write()
      if (r.status !== 200) refused = r
    }
    expect(refused, 'no write was refused on a full disk').toBeDefined()
    expect(refused!.status, refused!.text).toBe(507)
    expect(refused!.json.error).toMatchObject({ code: 'disk_full', message: expect.stringMatching(/disk/i) })
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0)
    // An alert (another write path, another connection) is refused the same way.
    const alert = await call('POST', '/api/v2/alerts', [{ labels: { alertname: 'DiskFullProbe' } }])
    expect(alert.status, alert.text).toBe(507)

    // Reads, the dashboard and liveness keep working.
    expect((await read('GET', '/api/v1/alerts')).status).toBe(200)
    expect((await read('GET', '/api/v1/metrics/series?name=disk_probe')).status).toBe(200)
    const dash = await page('/')
    expect(dash.status, await dash.text()).toBe(200)
    expect((await server.fetch('/health')).status).toBe(200)
    const ready = await server.fetch('/ready')
    expect(ready.status).toBe(503)
    const readyBody = (await ready.json()) as { checks: { name: string; ok: boolean; detail?: string }[] }
    expect(readyBody.checks).toContainEqual(
      expect.objectContaining({ name: 'disk', ok: false, detail: expect.stringMatching(/full/i) }),
    )

    // Space comes back: writes resume without a restart.
    rmSync(filler)
    await until('a write accepted again', async () => ((await write()).status === 200 ? true : undefined), 30_000, 200)
    await until('ready again', async () => ((await server.fetch('/ready')).status === 200 ? true : undefined), 30_000)
    expect((await call('POST', '/api/v2/alerts', [{ labels: { alertname: 'DiskFullProbe' } }])).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await write()).status).toBe(200)

    // Nothing acknowledged is missing (moved out of the inbox or still in it), and the file is sound.
    await delay(1500)
    const db = openDbFile(server)
    try {
      expect((await db.execute('pragma integrity_check')).rows[0]![0]).toBe('ok')
      const exportRes = await read(
        'GET',
        `/api/v1/metrics/export?format=json&name=disk_probe&from=1700000000000&to=1700000001000`,
      )
      expect(exportRes.status).toBe(200)
      const stored = new Map<number, number>()
      for (const r of exportRes.json as { value: number }[]) stored.set(r.value, (stored.get(r.value) ?? 0) + 1)
      const missing = acked.filter((i) => stored.get(i) !== 500)
      expect(missing, `acknowledged batches missing: ${missing.join(', ')}`).toEqual([])
    } finally {
      db.close()
    }
  })
})
