/**
 * Backups → Targets and the progress of long work on the Backups page, as HTML: the list with
 * secrets masked, the admin's forms (same checks and audit rows as the API), roles on every action,
 * and the live panel that polls every second while a backup runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'

const dir = mkdtempSync(join(tmpdir(), 'backup-targets-page-'))
const commandsFile = join(dir, 'commands.json')
writeFileSync(commandsFile, JSON.stringify({ commands: { slow: { argv: ['sleep', '1'] }, dump: { argv: ['ls'] } } }))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let t: TestApp
afterEach(async () => {
  await t?.services.backups.settle()
  t?.close()
})

const post = (path: string, headers: Record<string, string>, fields: Record<string, string> = {}) =>
  t.app.request(path, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
  })
const page = async (path: string, headers: Record<string, string>) => {
  const res = await t.app.request(path, { headers })
  return { status: res.status, html: await res.text() }
}
const qdrantFields = {
  name: 'vectors',
  kind: 'qdrant',
  'config.url': 'http://127.0.0.1:6333',
  'config.collection': 'docs',
  'config.apiKey': 'qdrant-page-secret-42',
  'destination.kind': 's3',
  'destination.endpoint': 'http://127.0.0.1:9000',
  'destination.bucket': 'backups',
  'destination.accessKeyId': 'AKIAPAGE',
  'destination.secretAccessKey': 's3-page-secret-99',
  'destination.forcePathStyle': '1',
  schedule: '0 4 * * *',
  'retention.keepLast': '3',
  'retention.daily': '1',
  'retention.weekly': '0',
  'retention.monthly': '0',
  enabled: '1',
}

describe('the targets page', () => {
  it('admins create and change targets with kind-specific fields; secrets are masked; bad fields are named', async () => {
    t = await testApp({ BACKUP_COMMANDS_FILE: commandsFile })
    const admin = (await t.session('admin')).headers
    const created = await post('/backup-targets', admin, qdrantFields)
    expect(created.status, await created.clone().text()).toBe(200)
    expect(created.headers.get('HX-Redirect')).toBe('/backup-targets')
    const { html } = await page('/backup-targets', admin)
    expect(html).toContain('vectors')
    expect(html).toContain('http://127.0.0.1:6333')
    expect(html).not.toContain('qdrant-page-secret-42')
    expect(html).not.toContain('s3-page-secret-99')
    // The form offers each kind's fields and the commands of BACKUP_COMMANDS_FILE by name.
    for (const field of ['config.url', 'config.collection', 'config.apiKey', 'destination.secretAccessKey'])
      expect(html).toContain(`name="${field}"`)
    expect(html).toContain('<option value="slow"')

    const [row] = (
      await t.client.execute("select id, config, destination_config from backup_targets where name = 'vectors'")
    ).rows
    expect(JSON.stringify(row)).not.toMatch(/page-secret/)
    const id = String(row!.id)
    const edit = await page(`/backup-targets/${id}/edit`, admin)
    expect(edit.html).toContain(`hx-post="/backup-targets/${id}/save"`)
    expect(edit.html).not.toContain('qdrant-page-secret-42')

    // The secret is left empty: kept when the URL stays, refused (naming it) when the URL moves.
    const kept = await post(`/backup-targets/${id}/save`, admin, {
      ...qdrantFields,
      'config.apiKey': '',
      schedule: '0 5 * * *',
    })
    expect(kept.status).toBe(200)
    const moved = await post(`/backup-targets/${id}/save`, admin, {
      ...qdrantFields,
      'config.apiKey': '',
      'config.url': 'http://127.0.0.1:7000',
    })
    expect(moved.status).toBe(400)
    expect(await moved.text()).toContain('config.apiKey')
    const bad = await post('/backup-targets', admin, { ...qdrantFields, name: 'other', 'config.url': 'ftp://x' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('config.url')
    const command = await post('/backup-targets', admin, {
      name: 'files',
      kind: 'command',
      'config.command': 'dump',
      'destination.kind': 'local',
      schedule: '0 2 * * *',
      enabled: '1',
    })
    expect(command.status, await command.clone().text()).toBe(200)

    // Settings the form does not show keep their stored values.
    await t.client.execute({
      sql: "update backup_targets set config = json_set(config, '$.createTimeoutMs', 5000) where id = ?",
      args: [id],
    })
    expect((await post(`/backup-targets/${id}/save`, admin, { ...qdrantFields, 'config.apiKey': '' })).status).toBe(200)
    const [after] = (await t.client.execute({ sql: 'select config from backup_targets where id = ?', args: [id] })).rows
    expect(JSON.parse(String(after!.config))).toMatchObject({ createTimeoutMs: 5000, keepOnServer: false })

    const deleted = await post(`/backup-targets/${id}/delete`, admin)
    expect(deleted.status).toBe(200)
    const actions = await t.client.execute(
      "select action from audit_log where action like 'backup_target.%' order by id",
    )
    expect(actions.rows.map((r) => r.action)).toEqual([
      'backup_target.created',
      'backup_target.updated',
      'backup_target.created',
      'backup_target.updated',
      'backup_target.deleted',
    ])
  })

  it('viewers read, operators may only start a backup; neither sees or uses the forms', async () => {
    t = await testApp({ BACKUP_COMMANDS_FILE: commandsFile })
    const viewer = (await t.session('viewer')).headers
    const operator = (await t.session('operator')).headers
    const v = await page('/backup-targets', viewer)
    expect(v.status).toBe(200)
    expect(v.html).toContain('homeostat')
    expect(v.html).not.toContain('name="config.url"')
    expect(v.html).not.toContain('Back up now')
    const o = await page('/backup-targets', operator)
    expect(o.html).toContain('Back up now')
    expect(o.html).not.toContain('Edit')
    for (const headers of [viewer, operator]) {
      expect((await post('/backup-targets', headers, qdrantFields)).status).toBe(403)
      expect((await post('/backup-targets/homeostat/save', headers, qdrantFields)).status).toBe(403)
      expect((await post('/backup-targets/homeostat/delete', headers)).status).toBe(403)
      expect((await page('/backup-targets/homeostat/edit', headers)).status).toBe(403)
    }
    expect((await post('/backup-targets/homeostat/run', viewer)).status).toBe(403)
    const ran = await post('/backup-targets/homeostat/run', operator)
    expect(ran.headers.get('HX-Redirect')).toBe('/backups')
  })
})

describe('progress on the Backups page', () => {
  it('polls every second while a backup runs, showing its phase; every 5 s once it is done', async () => {
    t = await testApp({ BACKUP_COMMANDS_FILE: commandsFile })
    const admin = await t.key('admin')
    const created = await t.json(
      'POST',
      '/api/v1/backup-targets',
      { name: 'slow', kind: 'command', config: { command: 'slow' } },
      admin.headers,
    )
    expect(created.status).toBe(201)
    const { done } = await t.services.backups.trigger('slow', { trigger: 'manual', actor: 'test' })
    // The row is `running` before trigger returns; its phase is written just after (the command runs 1 s).
    let running = await page('/backups/live', admin.headers)
    for (let i = 0; i < 40 && !running.html.includes('backup-progress'); i++) {
      await new Promise((r) => setTimeout(r, 10))
      running = await page('/backups/live', admin.headers)
    }
    expect(running.html).toContain('hx-trigger="live:backups from:body, every 2s"')
    expect(running.html).toMatch(/class="small muted backup-progress">(snapshot|upload)/)
    expect((await done).status).toBe('good')
    const idle = await page('/backups/live', admin.headers)
    expect(idle.html).toContain('hx-trigger="live:backups from:body, every 60s"')
    expect(idle.html).not.toContain('backup-progress')
  })
})
