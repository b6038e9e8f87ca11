import { generateIdentity, identityToRecipient } from 'age-encryption'
import { afterEach, describe, expect, it } from 'vitest'
import { backups } from '../../db/schema/backups.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
afterEach(() => t?.close())

type Err = { error: { code: string; message: string; details: { field: string; message: string }[] } }
const fields = async (res: Response) => ((await res.json()) as Err).error.details.map((d) => d.field)

describe('backups API: roles', () => {
  it('viewers read, operators trigger and verify, admins download, restore and change targets', async () => {
    t = await testApp()
    const viewer = (await t.key('viewer')).headers
    const op = (await t.key('operator')).headers
    const admin = (await t.key('admin')).headers
    const ingest = (await t.key('viewer', ['ingest'])).headers
    const good = (await (await t.json('POST', '/api/v1/backups', { wait: true }, op)).json()) as { id: string }

    for (const path of [
      '/api/v1/backups',
      '/api/v1/backups/status',
      `/api/v1/backups/${good.id}`,
      '/api/v1/backup-targets',
      '/api/v1/backup-restores',
      '/backups',
    ]) {
      expect((await t.app.request(path, { headers: viewer })).status, path).toBe(200)
      expect((await t.app.request(path, { headers: ingest })).status, path).toBe(403)
      expect((await t.app.request(path)).status, path).toBeGreaterThanOrEqual(300)
    }
    expect((await t.json('POST', '/api/v1/backups', {}, viewer)).status).toBe(403)
    expect((await t.app.request(`/api/v1/backups/${good.id}/verify`, { method: 'POST', headers: viewer })).status).toBe(
      403,
    )
    expect((await t.app.request(`/api/v1/backups/${good.id}/verify`, { method: 'POST', headers: op })).status).toBe(200)
    expect((await t.app.request(`/api/v1/backups/${good.id}/download`, { headers: op })).status).toBe(403)
    expect((await t.json('POST', `/api/v1/backups/${good.id}/restore`, {}, op)).status).toBe(403)
    expect((await t.json('POST', '/api/v1/backup-targets', { name: 'x', kind: 'homeostat' }, op)).status).toBe(403)

    const download = await t.app.request(`/api/v1/backups/${good.id}/download`, { headers: admin })
    expect(download.status).toBe(200)
    const bytes = new Uint8Array(await download.arrayBuffer())
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]) // gzip
    expect(download.headers.get('content-disposition')).toContain(`${good.id}.db.gz`)
    const audit = await t.client.execute("select action from audit_log where action = 'backup.downloaded'")
    expect(audit.rows).toHaveLength(1)
  })

  it('is in the OpenAPI document with its access levels', async () => {
    t = await testApp()
    const viewer = (await t.key('viewer')).headers
    const doc = (await (await t.app.request('/api/v1/openapi.json', { headers: viewer })).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    for (const path of [
      '/api/v1/backups',
      '/api/v1/backups/status',
      '/api/v1/backups/{id}/restore',
      '/api/v1/backup-targets/{id}',
      '/api/v1/backup-restores/{id}/approve',
    ])
      expect(doc.paths[path], path).toBeDefined()
  })
})

describe('backups API: bad input names the field', () => {
  it('refuses bad bodies, queries and targets', async () => {
    t = await testApp()
    const op = (await t.key('operator')).headers
    const admin = (await t.key('admin')).headers
    expect(await fields(await t.json('POST', '/api/v1/backups', { wait: 'yes' }, op))).toEqual(['wait'])
    expect(await fields(await t.json('POST', '/api/v1/backups', { nope: 1 }, op))).toEqual(['nope'])
    expect((await t.json('POST', '/api/v1/backups', { target: 'missing' }, op)).status).toBe(404)
    expect(await fields(await t.app.request('/api/v1/backups?status=fine', { headers: op }))).toEqual(['status'])
    expect(await fields(await t.app.request('/api/v1/backups?limit=9999', { headers: op }))).toEqual(['limit'])
    expect(await fields(await t.app.request('/api/v1/backups?from=yesterday', { headers: op }))).toEqual(['from'])
    expect((await t.app.request('/api/v1/backups/nope', { headers: op })).status).toBe(404)
    expect(await fields(await t.json('POST', '/api/v1/backups/x/restore', { reason: 'r'.repeat(600) }, admin))).toEqual(
      ['reason'],
    )

    const bad = await t.json(
      'POST',
      '/api/v1/backup-targets',
      { name: 'Bad Name', kind: 'homeostat', schedule: 'every day', retention: { keepLast: 0 } },
      admin,
    )
    expect(bad.status).toBe(400)
    expect((await fields(bad)).sort()).toEqual(['name', 'retention.keepLast', 'schedule'])
    expect(
      await fields(
        await t.json(
          'POST',
          '/api/v1/backup-targets',
          { name: 'q', kind: 'qdrant', config: { collection: 'c' } },
          admin,
        ),
      ),
    ).toEqual(['config.url'])
    expect(await fields(await t.json('POST', '/api/v1/backup-targets', { name: 'q', kind: 'tape' }, admin))).toEqual([
      'kind',
    ])
    expect(
      await fields(
        await t.json(
          'POST',
          '/api/v1/backup-targets',
          { name: 'q', kind: 'homeostat', destination: { kind: 's3', bucket: 'b' } },
          admin,
        ),
      ),
    ).toEqual(['destination.endpoint', 'destination.bucket', 'destination.accessKeyId'])
    expect(await fields(await t.json('PATCH', '/api/v1/backup-targets/homeostat', { name: 'renamed' }, admin))).toEqual(
      ['name'],
    )
    expect((await t.app.request('/api/v1/backup-targets/homeostat', { method: 'DELETE', headers: admin })).status).toBe(
      409,
    )
  })
})

describe('backup targets', () => {
  it('has the default homeostat target; CRUD with secrets sealed and masked', async () => {
    t = await testApp()
    const admin = (await t.key('admin')).headers
    const list = (await (await t.app.request('/api/v1/backup-targets', { headers: admin })).json()) as {
      items: { name: string; schedule: string; destination: { kind: string } }[]
    }
    expect(list.items).toEqual([
      expect.objectContaining({ name: 'homeostat', schedule: '0 3 * * *', destination: { kind: 'local' } }),
    ])

    const created = await t.json(
      'POST',
      '/api/v1/backup-targets',
      {
        name: 'vectors',
        kind: 'qdrant',
        config: { url: 'http://127.0.0.1:6333', collection: 'docs', apiKey: 'qdrant-secret-key-123' },
        destination: {
          kind: 's3',
          endpoint: 'http://127.0.0.1:9000',
          bucket: 'backups',
          accessKeyId: 'AKIA1',
          secretAccessKey: 's3-secret-value-xyz',
        },
        schedule: '0 */6 * * *',
        retention: { keepLast: 3, daily: 2, weekly: 1, monthly: 0 },
      },
      admin,
    )
    expect(created.status).toBe(201)
    const target = (await created.json()) as {
      id: string
      config: { apiKey: string }
      destination: { secretAccessKey: string }
    }
    expect(target.config.apiKey).not.toContain('secret-key')
    expect(target.destination.secretAccessKey).not.toContain('secret-value')
    const raw = await t.client.execute({
      sql: 'select config, destination_config from backup_targets where id = ?',
      args: [target.id],
    })
    expect(JSON.stringify(raw.rows[0])).not.toMatch(/qdrant-secret|s3-secret/)
    expect((await t.json('POST', '/api/v1/backup-targets', { name: 'vectors', kind: 'homeostat' }, admin)).status).toBe(
      409,
    )
    // Changing the schedule keeps the secrets.
    const patched = await t.json(
      'PATCH',
      `/api/v1/backup-targets/${target.id}`,
      { schedule: '0 1 * * *', enabled: false },
      admin,
    )
    expect(await patched.json()).toMatchObject({
      schedule: '0 1 * * *',
      enabled: false,
      config: { apiKey: target.config.apiKey },
    })
    expect(
      (await t.app.request(`/api/v1/backup-targets/${target.id}`, { method: 'DELETE', headers: admin })).status,
    ).toBe(204)
    const actions = await t.client.execute(
      "select action from audit_log where action like 'backup_target.%' order by id",
    )
    expect(actions.rows.map((r) => r.action)).toEqual([
      'backup_target.created',
      'backup_target.updated',
      'backup_target.deleted',
    ])
  })
})

describe('encryption', () => {
  it('a passphrase encrypts; the wrong passphrase gives a clear error', async () => {
    t = await testApp({ BACKUP_ENCRYPTION: 'passphrase:correct horse battery' })
    const op = (await t.key('operator')).headers
    const b = (await (await t.json('POST', '/api/v1/backups', { wait: true }, op)).json()) as {
      id: string
      status: string
      encryption: string
      location: string
    }
    expect(b).toMatchObject({ status: 'good', encryption: 'passphrase' })
    expect(b.location).toMatch(/\.db\.gz\.age$/)
    // The same database file, read by a server with another passphrase.
    const other = await testApp({
      BACKUP_ENCRYPTION: 'passphrase:a different passphrase',
      DATA_DIR: t.dir,
      DATABASE_URL: t.config.DATABASE_URL,
    })
    try {
      const res = await other.app.request(`/api/v1/backups/${b.id}/verify`, { method: 'POST', headers: op })
      expect(res.status).toBe(422)
      const out = (await res.json()) as { problems: string[] }
      expect(out.problems.join(' ')).toMatch(/passphrase in BACKUP_ENCRYPTION is not the one it was encrypted with/)
      const drill = (await (await other.json('POST', '/api/v1/backups/drill', { backupId: b.id }, op)).json()) as {
        status: string
        error: string
      }
      expect(drill.status).toBe('failed')
    } finally {
      other.client.close()
    }
  })

  it('an age identity encrypts to its recipient and verifies whole; a recipient alone is checked by SHA-256', async () => {
    const identity = await generateIdentity()
    t = await testApp({ BACKUP_ENCRYPTION: identity })
    const op = (await t.key('operator')).headers
    const b = (await (await t.json('POST', '/api/v1/backups', { wait: true }, op)).json()) as {
      status: string
      encryption: string
    }
    expect(b).toMatchObject({ status: 'good', encryption: 'age' })
    t.close()
    t = await testApp({ BACKUP_ENCRYPTION: await identityToRecipient(identity) })
    const op2 = (await t.key('operator')).headers
    const r = (await (await t.json('POST', '/api/v1/backups', { wait: true }, op2)).json()) as {
      status: string
      encryption: string
    }
    expect(r).toMatchObject({ status: 'good', encryption: 'age' })
  })

  it('refuses a bad BACKUP_ENCRYPTION at start-up, naming it', async () => {
    await expect(testApp({ BACKUP_ENCRYPTION: 'passphrase:short' })).rejects.toThrow(/BACKUP_ENCRYPTION.*\[redacted\]/s)
  })
})

describe('the Backups page', () => {
  it('triggers, shows the status panel and the approval flow; its actions keep the roles', async () => {
    t = await testApp()
    const op = await t.session('operator')
    const viewer = await t.session('viewer')
    const first = await t.session('admin')
    const second = await t.session('admin')
    const post = (path: string, headers: Record<string, string>, body?: string) =>
      t.app.request(path, {
        method: 'POST',
        headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      })
    expect((await post('/backups/run', viewer.headers, 'target=homeostat')).status).toBe(403)
    expect((await post('/backups/run', op.headers)).status).toBe(400)
    const run = await post('/backups/run', op.headers, 'target=homeostat')
    expect(run.headers.get('HX-Redirect')).toBe('/backups')
    await t.services.backups.settle()
    const [b] = await t.db.select().from(backups)
    expect(b!.status).toBe('good')
    expect((await post(`/backups/${b!.id}/restore`, op.headers)).status).toBe(403)
    expect((await post(`/backups/${b!.id}/restore`, first.headers)).headers.get('HX-Redirect')).toBe('/backups')
    const mine = await (await t.app.request('/backups', { headers: first.headers })).text()
    expect(mine).toContain('waiting for a second admin')
    const theirs = await (await t.app.request('/backups', { headers: second.headers })).text()
    expect(theirs).toContain('Approve')
    expect(theirs).toMatch(/Last good[\s\S]*Next due[\s\S]*Size[\s\S]*Retention[\s\S]*no drill yet/)
    const viewerPage = await (await t.app.request('/backups', { headers: viewer.headers })).text()
    expect(viewerPage).not.toContain('Back up now')
    expect(viewerPage).not.toContain('Restore…')
  })
})
