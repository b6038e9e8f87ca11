/**
 * The guarded stores through the API, as users drive them: targets of kind `command` (real `tar`)
 * and `qdrant` (the stand-in), stored locally or in S3 (s3rver), backed up, verified, restored with
 * two admins, pruned, alerted on; and refused by the outbound policy when not allow-listed. Every
 * server here listens on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { startFakeQdrant } from '../helpers/fake-qdrant.ts'
import { startS3 } from '../helpers/s3-server.ts'

const dir = mkdtempSync(join(tmpdir(), 'backup-stores-api-'))
const s3 = await startS3(['backups'])
const qdrant = await startFakeQdrant({ apiKey: 'qdrant-api-key-1' })
afterAll(async () => {
  await s3.close()
  await qdrant.close()
  rmSync(dir, { recursive: true, force: true })
})
let t: TestApp
afterEach(async () => {
  await t?.services.backups.settle()
  t?.close()
})

const folder = join(dir, 'uploads')
const restored = join(dir, 'restored')
mkdirSync(folder)
mkdirSync(restored)
writeFileSync(join(folder, 'notes.txt'), 'keep me\n')
const commandsFile = join(dir, 'commands.json')
writeFileSync(
  commandsFile,
  JSON.stringify({
    commands: {
      uploads: { argv: ['tar', '-C', folder, '-cf', '-', '.'], restore: { argv: ['tar', '-C', restored, '-xf', '-'] } },
      broken: { argv: ['tar', '-C', join(dir, 'no-such-folder'), '-cf', '-', '.'] },
      slow: { argv: ['sleep', '1'] },
      'bad-restore': {
        argv: ['tar', '-C', folder, '-cf', '-', '.'],
        restore: { argv: ['tar', '-C', join(dir, 'no-such-restore-folder'), '-xf', '-'] },
      },
    },
  }),
)

const s3Dest = (prefix = 'stores/') => ({
  kind: 's3',
  endpoint: s3.endpoint,
  bucket: 'backups',
  prefix,
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
  forcePathStyle: true,
})
const qdrantConfig = (collection = 'docs') => ({ url: qdrant.url, collection, apiKey: 'qdrant-api-key-1' })
const snapshot = (fill: number) => Buffer.concat([Buffer.from('QDSNP'), Buffer.alloc(256 * 1024, fill)])

type BackupJson = {
  id: string
  encryption: string
  status: string
  kind: string
  size: number
  sha256: string
  location: string
  error: string | null
  destination: string
}

async function setup(env: Record<string, string> = {}) {
  t = await testApp({ BACKUP_COMMANDS_FILE: commandsFile, ...env })
  const admin = await t.session('admin')
  const admin2 = await t.session('admin')
  const op = (await t.key('operator')).headers
  const createTarget = async (body: Record<string, unknown>) => {
    const res = await t.json('POST', '/api/v1/backup-targets', body, admin.headers)
    expect(res.status, await res.clone().text()).toBe(201)
    return (await res.json()) as { id: string; name: string }
  }
  const backUp = async (target: string) => {
    const res = await t.json('POST', '/api/v1/backups', { target, wait: true }, op)
    return { status: res.status, body: (await res.json()) as BackupJson }
  }
  /** Asked by one admin, approved by another: the two-admin restore of the database, for a store. */
  const restore = async (id: string) => {
    const asked = await t.json('POST', `/api/v1/backups/${id}/restore`, { reason: 'test' }, admin.headers)
    expect(asked.status, await asked.clone().text()).toBe(202)
    const { approve } = (await asked.json()) as { approve: string }
    expect((await t.json('POST', approve, {}, admin.headers)).status).toBe(403)
    return t.json('POST', approve, {}, admin2.headers)
  }
  return { admin, admin2, op, createTarget, backUp, restore }
}

describe('command targets', () => {
  it('a tar of a folder into S3: manifest, verify, and a two-admin restore through tar -x', async () => {
    const { createTarget, backUp, restore, op } = await setup()
    await createTarget({ name: 'uploads', kind: 'command', config: { command: 'uploads' }, destination: s3Dest() })
    const { status, body } = await backUp('uploads')
    expect(status, body.error ?? '').toBe(201)
    expect(body).toMatchObject({ status: 'good', kind: 'command', destination: 's3' })
    expect(body.location).toMatch(/^uploads\/.+\.out$/)
    const got = (await (await t.app.request(`/api/v1/backups/${body.id}`, { headers: op })).json()) as {
      manifest: Record<string, unknown>
    }
    expect(got.manifest).toMatchObject({
      kind: 'command',
      size: body.size,
      sha256: body.sha256,
      compression: 'none',
      source: { command: 'uploads' },
    })
    expect(got.manifest).not.toHaveProperty('rowCounts')
    const keys = s3.requests.filter((r) => r.method === 'PUT').map((r) => r.url)
    expect(keys.some((u) => u.includes(`stores/uploads/${body.id}.out.manifest.json`))).toBe(true)
    const row = await t.client.execute({ sql: 'select phase, bytes_done from backups where id = ?', args: [body.id] })
    expect(row.rows[0]).toMatchObject({ phase: 'verify', bytes_done: body.size })

    const verified = await t.json('POST', `/api/v1/backups/${body.id}/verify`, {}, op)
    expect(await verified.json()).toMatchObject({ ok: true, problems: [] })
    // A drill restores into a scratch database: only for the homeostat target.
    expect((await t.json('POST', '/api/v1/backups/drill', { backupId: body.id }, op)).status).toBe(409)

    const res = await restore(body.id)
    expect(res.status, await res.clone().text()).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'done', keptAs: null })
    expect(readFileSync(join(restored, 'notes.txt'), 'utf8')).toBe('keep me\n')
    const restoreRow = await t.client.execute('select bytes_done from backup_restores where kind = ?', ['live'])
    expect(restoreRow.rows[0]!.bytes_done).toBe(body.size)
    const actions = await t.client.execute("select summary from audit_log where action = 'backup.restored'")
    expect(String(actions.rows[0]!.summary)).toContain('put back into its store')
  })

  it('a command that fails makes a failed backup and raises backup_failed; no restore command refuses at once', async () => {
    const { createTarget, backUp, admin } = await setup()
    await createTarget({ name: 'broken', kind: 'command', config: { command: 'broken' } })
    const { status, body } = await backUp('broken')
    expect(status).toBe(500)
    expect(body.status).toBe('failed')
    expect(body.error).toMatch(/^broken exited with 2: tar: .*no-such-folder/)
    const failed = (await t.db.select().from(alerts)).find((a) => a.labels.alertname === 'backup_failed')
    expect(failed).toMatchObject({ status: 'firing', labels: { target: 'broken' } })

    // A good backup of a command without a `restore` entry: the restore is refused when asked, naming why.
    await createTarget({ name: 'slow', kind: 'command', config: { command: 'slow' } })
    const good = await backUp('slow')
    expect(good.body).toMatchObject({ status: 'good', size: 0 })
    const asked = await t.json('POST', `/api/v1/backups/${good.body.id}/restore`, {}, admin.headers)
    expect(asked.status).toBe(409)
    expect(((await asked.json()) as { error: { message: string } }).error.message).toBe(
      'slow has no restore command in BACKUP_COMMANDS_FILE; restore it by hand',
    )
  })

  it('a restore command that fails answers 502 with its stderr, and the request is recorded failed', async () => {
    const { createTarget, backUp, restore } = await setup()
    await createTarget({ name: 'bad-restore', kind: 'command', config: { command: 'bad-restore' } })
    const { body } = await backUp('bad-restore')
    expect(body.status).toBe('good')
    const res = await restore(body.id)
    expect(res.status).toBe(502)
    const error = ((await res.json()) as { error: { code: string; message: string } }).error
    expect(error.code).toBe('restore_failed')
    expect(error.message).toMatch(/bad-restore \(restore\) .*no-such-restore-folder/)
    const row = await t.client.execute("select status, error from backup_restores where kind = 'live'")
    expect(row.rows[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('no-such-restore-folder') })
  })

  it('refuses a command that is not listed, and command targets when BACKUP_COMMANDS_FILE is unset', async () => {
    const { admin } = await setup()
    const res = await t.json(
      'POST',
      '/api/v1/backup-targets',
      { name: 'x', kind: 'command', config: { command: 'rm-everything' } },
      admin.headers,
    )
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { details: unknown[] } }).error.details).toEqual([
      { field: 'config.command', message: expect.stringContaining('rm-everything is not a command') },
    ])
    t.close()
    t = await testApp()
    const other = (await t.key('admin')).headers
    const off = await t.json(
      'POST',
      '/api/v1/backup-targets',
      { name: 'x', kind: 'command', config: { command: 'uploads' } },
      other,
    )
    expect(((await off.json()) as { error: { details: unknown[] } }).error.details).toEqual([
      { field: 'kind', message: 'command targets are off (BACKUP_COMMANDS_FILE is not set)' },
    ])
  })
})

describe('qdrant targets', () => {
  it('to the local folder and to S3, each restored by upload after two admins', async () => {
    const { createTarget, backUp, restore } = await setup()
    qdrant.collections.set('docs', snapshot(0x11))
    await createTarget({ name: 'vectors', kind: 'qdrant', config: qdrantConfig() })
    await createTarget({ name: 'vectors-s3', kind: 'qdrant', config: qdrantConfig(), destination: s3Dest('q/') })
    const local = await backUp('vectors')
    expect(local.status, local.body.error ?? '').toBe(201)
    expect(local.body).toMatchObject({ kind: 'qdrant', destination: 'local', size: snapshot(0x11).length })
    expect(readFileSync(join(t.dir, 'backups', local.body.location)).equals(snapshot(0x11))).toBe(true)
    const manifest = JSON.parse(readFileSync(join(t.dir, 'backups', `${local.body.location}.manifest.json`), 'utf8'))
    expect(manifest).toMatchObject({
      kind: 'qdrant',
      source: { url: qdrant.url.replace(/\/$/, '') + '/', collection: 'docs' },
    })
    expect(JSON.stringify(manifest)).not.toContain('qdrant-api-key-1')

    qdrant.collections.set('docs', snapshot(0x22))
    const remote = await backUp('vectors-s3')
    expect(remote.body).toMatchObject({ status: 'good', destination: 's3' })

    // The collection changes; each restore puts its own snapshot back.
    qdrant.collections.set('docs', snapshot(0x33))
    expect((await restore(local.body.id)).status).toBe(200)
    expect(qdrant.collections.get('docs')!.equals(snapshot(0x11))).toBe(true)
    expect((await restore(remote.body.id)).status).toBe(200)
    expect(qdrant.collections.get('docs')!.equals(snapshot(0x22))).toBe(true)
    expect(
      qdrant.requests.filter((r) => r.path.endsWith('/upload')).every((r) => r.apiKey === 'qdrant-api-key-1'),
    ).toBe(true)
  })

  it('with BACKUP_ENCRYPTION the snapshot is stored encrypted, and decrypted again by the restore', async () => {
    const { createTarget, backUp, restore } = await setup({ BACKUP_ENCRYPTION: 'passphrase:a long store passphrase' })
    qdrant.collections.set('docs', snapshot(0x66))
    await createTarget({ name: 'vectors', kind: 'qdrant', config: qdrantConfig() })
    const { body } = await backUp('vectors')
    expect(body).toMatchObject({ status: 'good', encryption: 'passphrase' })
    expect(body.location).toMatch(/\.snapshot\.age$/)
    const stored = readFileSync(join(t.dir, 'backups', body.location))
    expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1')
    expect(stored.includes(snapshot(0x66).subarray(5, 1000))).toBe(false)
    qdrant.collections.set('docs', snapshot(0x67))
    expect((await restore(body.id)).status).toBe(200)
    expect(qdrant.collections.get('docs')!.equals(snapshot(0x66))).toBe(true)
  })

  it('a stored copy changed at the destination fails verify (backup failed) and its restore (422)', async () => {
    const { createTarget, backUp, op, admin } = await setup()
    qdrant.collections.set('docs', snapshot(0x44))
    await createTarget({ name: 'vectors', kind: 'qdrant', config: qdrantConfig() })
    const { body } = await backUp('vectors')
    const asked = (await (await t.json('POST', `/api/v1/backups/${body.id}/restore`, {}, admin.headers)).json()) as {
      approve: string
    }
    writeFileSync(join(t.dir, 'backups', body.location), snapshot(0x45))
    const verified = await t.json('POST', `/api/v1/backups/${body.id}/verify`, {}, op)
    expect(verified.status).toBe(422)
    expect(((await verified.json()) as { problems: string[] }).problems[0]).toMatch(/^its SHA-256 is [0-9a-f]{64}/)
    const second = await t.session('admin')
    const approved = await t.json('POST', asked.approve, {}, second.headers)
    expect(approved.status).toBe(422)
    expect(qdrant.collections.get('docs')!.equals(snapshot(0x44))).toBe(true)
  })

  it('is refused by the outbound policy without OUTBOUND_ALLOW: a failed backup, and no connection made', async () => {
    const { createTarget, backUp } = await setup({ OUTBOUND_ALLOW: '' })
    qdrant.collections.set('docs', snapshot(0x55))
    await createTarget({ name: 'vectors', kind: 'qdrant', config: qdrantConfig() })
    const before = qdrant.connections()
    const { body } = await backUp('vectors')
    expect(body.status).toBe('failed')
    expect(body.error).toContain('refused by the outbound policy')
    expect(qdrant.connections()).toBe(before)
  })
})

describe('the homeostat target in S3', () => {
  it('snapshots into S3, verifies and drills from there', async () => {
    const { backUp, admin, op } = await setup()
    const moved = await t.json(
      'PATCH',
      '/api/v1/backup-targets/homeostat',
      { destination: s3Dest('db/') },
      admin.headers,
    )
    expect(moved.status, await moved.clone().text()).toBe(200)
    const { status, body } = await backUp('homeostat')
    expect(status, body.error ?? '').toBe(201)
    expect(body).toMatchObject({ destination: 's3', kind: 'homeostat' })
    expect(s3.requests.some((r) => r.method === 'PUT' && r.url.includes(`db/homeostat/${body.id}.db.gz`))).toBe(true)
    expect((await t.json('POST', `/api/v1/backups/${body.id}/verify`, {}, op)).status).toBe(200)
    const drill = await t.json('POST', '/api/v1/backups/drill', {}, op)
    expect(await drill.json()).toMatchObject({ status: 'done', backupId: body.id })
    // The verify read the stored bytes back through the counted destination.
    const row = await t.client.execute({ sql: 'select phase, bytes_done from backups where id = ?', args: [body.id] })
    expect(row.rows[0]).toMatchObject({ phase: 'verify', bytes_done: body.size })
  })
})

describe('retention and missed backups for store targets', () => {
  it('prunes past keepLast in S3 (objects removed) and raises backup_missed when overdue', async () => {
    const { createTarget, backUp } = await setup()
    await createTarget({
      name: 'uploads',
      kind: 'command',
      config: { command: 'uploads' },
      destination: s3Dest('retention/'),
      retention: { keepLast: 1, daily: 0, weekly: 0, monthly: 0 },
    })
    const first = await backUp('uploads')
    const second = await backUp('uploads')
    expect([first.body.status, second.body.status]).toEqual(['good', 'good'])
    const at = Date.now()
    expect(await t.services.backups.maintain(at)).toMatchObject({ pruned: 1, missed: 0 })
    const statuses = await t.client.execute({ sql: 'select id, status from backups order by started_at', args: [] })
    expect(statuses.rows.map((r) => r.status)).toEqual(['pruned', 'good'])
    const deletes = s3.requests.filter((r) => r.method === 'DELETE').map((r) => r.url)
    expect(deletes.some((u) => u.includes(`retention/uploads/${first.body.id}.out`))).toBe(true)
    expect(deletes.some((u) => u.includes(second.body.id))).toBe(false)

    // Three days later with a daily schedule: older than twice its interval.
    await t.services.backups.maintain(at + 3 * 86_400_000)
    const missed = (await t.db.select().from(alerts)).find((a) => a.labels.alertname === 'backup_missed')
    expect(missed).toMatchObject({ status: 'firing', labels: { target: 'uploads' } })
  })
})

describe('secrets follow their destination', () => {
  it('a new Qdrant URL or S3 endpoint needs the secret again (400 naming it); only admins change targets', async () => {
    const { createTarget, admin } = await setup()
    const target = await createTarget({
      name: 'vectors',
      kind: 'qdrant',
      config: qdrantConfig(),
      destination: s3Dest(),
    })
    const patch = (body: unknown, headers: Record<string, string> = admin.headers) =>
      t.json('PATCH', `/api/v1/backup-targets/${target.id}`, body, headers)
    const details = async (res: Response) => ((await res.json()) as { error: { details: unknown[] } }).error.details

    const moved = await patch({ config: { url: 'http://127.0.0.1:1/', collection: 'docs' } })
    expect(moved.status).toBe(400)
    expect(await details(moved)).toEqual([
      { field: 'config.apiKey', message: 'must be given again (or null to remove it) when url changes' },
    ])
    const s3Moved = await patch({
      destination: { ...s3Dest(), endpoint: 'http://127.0.0.1:2', secretAccessKey: undefined },
    })
    expect(await details(s3Moved)).toEqual([
      {
        field: 'destination.secretAccessKey',
        message: 'must be given again (or null to remove it) when endpoint changes',
      },
    ])
    const bucketMoved = await patch({
      destination: { ...s3Dest(), bucket: 'other-bucket', secretAccessKey: undefined },
    })
    expect(bucketMoved.status).toBe(400)
    // The same place, secrets left out: kept. A new place with the secret given: accepted.
    expect((await patch({ config: { url: qdrant.url, collection: 'other' } })).status).toBe(200)
    expect((await patch({ config: { url: 'http://127.0.0.1:1/', collection: 'docs', apiKey: null } })).status).toBe(200)
    const row = await t.client.execute({ sql: 'select config from backup_targets where id = ?', args: [target.id] })
    expect(JSON.parse(String(row.rows[0]!.config))).not.toHaveProperty('apiKey')
    // Dropping the S3 secret leaves an S3 destination that cannot work: refused.
    const noSecret = await patch({ destination: { ...s3Dest(), secretAccessKey: null } })
    expect(await details(noSecret)).toEqual([
      { field: 'destination.secretAccessKey', message: 'is required for an s3 destination' },
    ])

    for (const role of ['operator', 'viewer'] as const) {
      const headers = (await t.key(role)).headers
      expect((await patch({ enabled: false }, headers)).status).toBe(403)
      expect(
        (await t.json('POST', '/api/v1/backup-targets', { name: `x-${role}`, kind: 'homeostat' }, headers)).status,
      ).toBe(403)
      expect((await t.app.request(`/api/v1/backup-targets/${target.id}`, { method: 'DELETE', headers })).status).toBe(
        403,
      )
      expect((await t.app.request('/api/v1/backup-targets', { headers })).status).toBe(200)
    }
  })
})
