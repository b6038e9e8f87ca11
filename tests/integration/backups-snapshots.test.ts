import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { eq } from 'drizzle-orm'
import Database from 'libsql'
import { afterEach, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { type BackupManifest, backups } from '../../db/schema/backups.ts'
import { localDestination } from '../../app/modules/backups/destinations/local.ts'
import type { SnapshotContext } from '../../app/modules/backups/snapshots/context.ts'
import { verifyWritten } from '../../app/modules/backups/snapshots/verify.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type BackupOut = {
  id: string
  status: string
  size: number
  sha256: string
  location: string
  error: string | null
  manifest?: { rowCounts: Record<string, number>; schemaVersion: number; sha256: string; homeostatVersion: string }
}

let t: TestApp
afterEach(() => t?.close())

const body = async <T>(res: Response) => (await res.json()) as T

/** Rows per table of the live database, as the manifest counts them. */
async function liveCounts(app: TestApp) {
  const tables = await app.client.execute(
    "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
  )
  const out: Record<string, number> = {}
  for (const r of tables.rows) {
    const name = String(r.name)
    const n = await app.client.execute(`select count(*) as n from "${name}"`)
    out[name] = Number(n.rows[0]!.n)
  }
  return out
}

async function backUp(app: TestApp, headers: Record<string, string>) {
  const res = await app.json('POST', '/api/v1/backups', { wait: true }, headers)
  const b = await body<BackupOut>(res)
  return { res, b }
}

describe('snapshots of the database', () => {
  it('takes a consistent, verified snapshot while metrics and alerts are written, with its manifest beside it', async () => {
    t = await testApp()
    const op = await t.key('operator')
    const ingest = await t.key('viewer', ['ingest'])
    let writing = true
    let written = 0
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const points = Array.from({ length: 50 }, (_, j) => ({
          name: 'snap_load',
          value: i * 50 + j,
          labels: { j: String(j % 5) },
        }))
        const m = await t.json('POST', '/api/v1/metrics', { points }, ingest.headers)
        const a = await t.json(
          'POST',
          '/api/v1/alerts',
          { title: `load ${i % 7}`, severity: 'warning', status: 'firing' },
          ingest.headers,
        )
        expect([m.status, a.status].every((s) => s < 300)).toBe(true)
        written++
      }
    })()
    // Some writes land before, and go on during, the snapshot.
    while (written < 5) await new Promise((r) => setTimeout(r, 5))
    const { res, b } = await backUp(t, op.headers)
    writing = false
    await writer
    expect(res.status).toBe(201)
    expect(b.status).toBe('good')
    const detail = await body<BackupOut>(await t.app.request(`/api/v1/backups/${b.id}`, { headers: op.headers }))
    const m = detail.manifest!
    expect(m.sha256).toBe(b.sha256)
    expect(m.schemaVersion).toBeGreaterThan(10)
    expect(m.homeostatVersion).toMatch(/^\d+\.\d+\.\d+/)
    expect(m.rowCounts.point_batches! + m.rowCounts.point_chunks!).toBeGreaterThan(0)
    expect(m.rowCounts.alerts).toBeGreaterThan(0)
    const folder = join(t.dir, 'backups', 'homeostat')
    const files = readdirSync(folder)
    expect(files.sort()).toEqual([`${b.id}.db.gz`, `${b.id}.db.gz.manifest.json`])
    expect(JSON.parse(readFileSync(join(folder, `${b.id}.db.gz.manifest.json`), 'utf8'))).toEqual(m)
    // No scratch copy is left in DATA_DIR.
    expect(readdirSync(t.dir).filter((f) => f.startsWith('.'))).toEqual([])
    const status = await body<{ lastGood: { id: string }; nextDue: string; size: number; retention: object }>(
      await t.app.request('/api/v1/backups/status', { headers: op.headers }),
    )
    expect(status).toMatchObject({ lastGood: { id: b.id }, size: b.size, retention: { keepLast: 7, daily: 7 } })
    expect(Date.parse(status.nextDue)).toBeGreaterThan(Date.now())
  })

  it('a corrupted file fails verification: the backup becomes failed and backup_failed is raised', async () => {
    t = await testApp()
    const op = await t.key('operator')
    const { b } = await backUp(t, op.headers)
    expect(b.status).toBe('good')
    const path = join(t.dir, 'backups', b.location)
    const bytes = readFileSync(path)
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff
    writeFileSync(path, bytes)
    const res = await t.app.request(`/api/v1/backups/${b.id}/verify`, { method: 'POST', headers: op.headers })
    expect(res.status).toBe(422)
    const out = await body<BackupOut & { ok: boolean; problems: string[] }>(res)
    expect(out).toMatchObject({ ok: false, status: 'failed' })
    expect(out.problems.join(' ')).toMatch(/does not verify/)
    const [row] = await t.db.select().from(backups).where(eq(backups.id, b.id))
    expect(row!.status).toBe('failed')
    const raised = await t.db.select().from(alerts)
    const failed = raised.find((a) => a.labels.alertname === 'backup_failed')
    expect(failed).toMatchObject({ status: 'firing', labels: { alertname: 'backup_failed', target: 'homeostat' } })
    // A failed backup can be neither verified again nor restored.
    const admin = await t.key('admin')
    expect((await t.json('POST', `/api/v1/backups/${b.id}/restore`, {}, admin.headers)).status).toBe(409)
  })

  it('records the SHA-256 of the checked database; a copy that decodes to other bytes fails verification', async () => {
    t = await testApp()
    const op = await t.key('operator')
    const { b } = await backUp(t, op.headers)
    expect(b.status).toBe('good')
    const detail = await body<BackupOut>(await t.app.request(`/api/v1/backups/${b.id}`, { headers: op.headers }))
    const m = detail.manifest! as BackupOut['manifest'] & { databaseSha256: string; databaseBytes: number }
    const path = join(t.dir, 'backups', b.location)
    const plain = gunzipSync(readFileSync(path))
    expect(m.databaseSha256).toBe(createHash('sha256').update(plain).digest('hex'))
    expect(m.databaseBytes).toBe(plain.length)

    // The verify right after a write: the stored bytes are right but decode to another database.
    const ctx = {
      config: { DATA_DIR: t.dir },
      encryption: async () => ({ mode: 'none' as const }),
    } as unknown as SnapshotContext
    const dest = localDestination(join(t.dir, 'backups'))
    const stored = { location: b.location, encryption: 'none' as const, sha256: b.sha256, manifest: m as never }
    expect(await verifyWritten(ctx, dest, stored)).toEqual([])
    const other = { ...stored, manifest: { ...m, databaseSha256: 'f'.repeat(64) } as never }
    expect((await verifyWritten(ctx, dest, other)).join(' ')).toMatch(/database's SHA-256 is [0-9a-f]{64}/)
    const cut = readFileSync(path).subarray(0, 100)
    writeFileSync(path, cut)
    const problems = await verifyWritten(ctx, dest, {
      ...stored,
      sha256: createHash('sha256').update(cut).digest('hex'),
    })
    expect(problems.join(' ')).toMatch(/cannot be read back as a compressed SQLite database/)

    // A full verify: another sound database with the same rows (only its header differs), stored
    // under a SHA-256 that matches, is still caught by the database's SHA-256.
    const copy = join(t.dir, 'changed.db')
    writeFileSync(copy, plain)
    const db = new Database(copy)
    db.exec('PRAGMA user_version = 7')
    db.close()
    const changed = gzipSync(readFileSync(copy))
    writeFileSync(path, changed)
    const sha = createHash('sha256').update(changed).digest('hex')
    await t.db
      .update(backups)
      .set({ sha256: sha, manifest: { ...(detail.manifest as never as BackupManifest), sha256: sha } })
      .where(eq(backups.id, b.id))
    const res = await t.app.request(`/api/v1/backups/${b.id}/verify`, { method: 'POST', headers: op.headers })
    expect(res.status).toBe(422)
    const out = await body<{ problems: string[] }>(res)
    expect(out.problems.join(' ')).toMatch(/database's SHA-256 is [0-9a-f]{64}, the manifest says/)
    expect(out.problems.join(' ')).not.toMatch(/rows|integrity/)
  })

  it('a drill restores the latest good backup into a scratch file and gives the restore estimate', async () => {
    t = await testApp()
    const op = await t.key('operator')
    const viewer = await t.key('viewer')
    expect((await t.json('POST', '/api/v1/backups/drill', {}, op.headers)).status).toBe(409) // nothing to drill yet
    await backUp(t, op.headers)
    const res = await t.json('POST', '/api/v1/backups/drill', {}, op.headers)
    expect(res.status).toBe(200)
    const drill = await body<{ status: string; durationMs: number; kind: string }>(res)
    expect(drill).toMatchObject({ status: 'done', kind: 'drill' })
    expect(drill.durationMs).toBeGreaterThanOrEqual(0)
    const status = await body<{ restoreEstimateSeconds: number }>(
      await t.app.request('/api/v1/backups/status', { headers: viewer.headers }),
    )
    expect(status.restoreEstimateSeconds).toBeGreaterThanOrEqual(1)
    const page = await t.app.request('/backups', { headers: viewer.headers })
    expect(await page.text()).toMatch(/restore takes ≈ \d+ s/)
    expect(readdirSync(t.dir).filter((f) => f.startsWith('.'))).toEqual([])
  })
})

describe('live restore with two admins', () => {
  it('needs a second admin, then brings back exactly the rows of the manifest and keeps the old file', async () => {
    t = await testApp()
    const op = await t.key('operator')
    const first = await t.key('admin')
    const second = await t.key('admin')
    const ingest = await t.key('viewer', ['ingest'])
    await t.json('POST', '/api/v1/alerts', { title: 'before', severity: 'info', status: 'firing' }, ingest.headers)
    const { b } = await backUp(t, op.headers)
    const manifest = (await body<BackupOut>(await t.app.request(`/api/v1/backups/${b.id}`, { headers: op.headers })))
      .manifest!
    // Changes after the snapshot: these must be gone after the restore.
    for (let i = 0; i < 5; i++)
      await t.json(
        'POST',
        '/api/v1/alerts',
        { title: `after ${i}`, severity: 'info', status: 'firing' },
        ingest.headers,
      )
    await t.json('POST', '/api/v1/metrics', { name: 'after_snapshot', value: 1 }, ingest.headers)

    expect((await t.json('POST', `/api/v1/backups/${b.id}/restore`, {}, op.headers)).status).toBe(403)
    const asked = await t.json('POST', `/api/v1/backups/${b.id}/restore`, { reason: 'drill day' }, first.headers)
    expect(asked.status).toBe(202)
    const request = await body<{ id: string; status: string; approve: string }>(asked)
    expect(request).toMatchObject({ status: 'pending', approve: `/api/v1/backup-restores/${request.id}/approve` })
    const self = await t.app.request(request.approve, { method: 'POST', headers: first.headers })
    expect(self.status).toBe(403)
    expect(JSON.stringify(await self.json())).toMatch(/second admin/)
    expect((await t.app.request(request.approve, { method: 'POST', headers: op.headers })).status).toBe(403)

    const done = await t.app.request(request.approve, { method: 'POST', headers: second.headers })
    expect(done.status).toBe(200)
    const restored = await body<{ status: string; keptAs: string; rowCounts: Record<string, number> }>(done)
    expect(restored.status).toBe('done')
    expect(existsSync(restored.keptAs)).toBe(true)
    expect(restored.keptAs).toMatch(/test\.db\.before-restore-/)

    // The same connections (reopened in place) now read the restored file: every table as the
    // manifest says, except the backups catalog and the audit log, which record the restore itself.
    const now = await liveCounts(t)
    for (const [table, n] of Object.entries(manifest.rowCounts)) {
      if (table === 'backups' || table === 'backup_restores' || table === 'audit_log') continue
      expect(now[table], table).toBe(n)
    }
    expect(now.audit_log).toBe(manifest.rowCounts.audit_log! + 1)
    const titles = (await t.db.select().from(alerts)).map((a) => a.title)
    expect(titles).toEqual(['before'])
    // The catalog survived: the backup is good, and the request shows as done.
    const [row] = await t.db.select().from(backups).where(eq(backups.id, b.id))
    expect(row!.status).toBe('good')
    const list = await body<{ items: { id: string; status: string }[] }>(
      await t.app.request('/api/v1/backup-restores', { headers: op.headers }),
    )
    expect(list.items.find((r) => r.id === request.id)?.status).toBe('done')
    // The server goes on writing to the restored database.
    expect(
      (await t.json('POST', '/api/v1/alerts', { title: 'later', severity: 'info', status: 'firing' }, ingest.headers))
        .status,
    ).toBe(201)
    expect((await t.json('POST', '/api/v1/metrics', { name: 'after_restore', value: 2 }, ingest.headers)).status).toBe(
      200,
    )
    // A decided request cannot be approved again.
    expect((await t.app.request(request.approve, { method: 'POST', headers: second.headers })).status).toBe(409)
  })

  it('a second admin can turn a request down instead; nothing changes', async () => {
    t = await testApp()
    const op = await t.key('operator')
    const first = await t.key('admin')
    const second = await t.key('admin')
    const { b } = await backUp(t, op.headers)
    const request = await body<{ id: string }>(
      await t.json('POST', `/api/v1/backups/${b.id}/restore`, {}, first.headers),
    )
    const rejected = await t.app.request(`/api/v1/backup-restores/${request.id}/reject`, {
      method: 'POST',
      headers: second.headers,
    })
    expect(rejected.status).toBe(200)
    expect(await rejected.json()).toMatchObject({ status: 'rejected', approvedBy: expect.stringContaining('key:') })
    const approve = await t.app.request(`/api/v1/backup-restores/${request.id}/approve`, {
      method: 'POST',
      headers: second.headers,
    })
    expect(approve.status).toBe(409)
    const audit = await t.client.execute("select action from audit_log where action like 'backup.%' order by id")
    // The backup's own row and the trigger's are written side by side (the backup runs beside the request).
    expect(audit.rows.map((r) => String(r.action)).sort()).toEqual([
      'backup.created',
      'backup.restore_rejected',
      'backup.restore_requested',
      'backup.triggered',
    ])
  })
})
