/**
 * Backups from the command line (`npm run cli -- backups …`, i.e. `bun app/cli.ts …`) on a temp
 * file database: a process killed with SIGKILL mid-snapshot leaves no backup marked good and no
 * whole-looking file; create, drill, and restore from a backup file with its manifest.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'libsql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killAll, npmScript, ROOT, runCli, tempData, until } from '../helpers/server.ts'

let data: ReturnType<typeof tempData>
const dbPath = () => data.env.DATABASE_URL.slice('file:'.length)

/** Rows per table straight from the file. */
function counts(path: string) {
  const db = new Database(path, { readonly: true })
  try {
    const tables = db
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
      .all() as { name: string }[]
    return Object.fromEntries(
      tables.map((t) => [t.name, (db.prepare(`select count(*) as n from "${t.name}"`).get() as { n: number }).n]),
    )
  } finally {
    db.close()
  }
}

beforeAll(async () => {
  data = tempData('homeostat-backups-')
  // The CLI migrates the new database; then ~24 MB of incompressible rows so a snapshot takes a while.
  expect((await runCli(['backups', 'list'], data.env)).code).toBe(0)
  const db = new Database(dbPath())
  db.exec('create table filler (id integer primary key, payload blob)')
  const insert = db.prepare('insert into filler (payload) values (randomblob(1200))')
  db.exec('begin')
  for (let i = 0; i < 20_000; i++) insert.run()
  db.exec('commit')
  db.close()
}, 120_000)
afterAll(killAll)

const backupsRows = () => {
  const db = new Database(dbPath(), { readonly: true })
  try {
    return db.prepare('select id, status, location from backups order by started_at').all() as {
      id: string
      status: string
      location: string
    }[]
  } finally {
    db.close()
  }
}

describe('backups from the command line', () => {
  it('a process killed with SIGKILL mid-snapshot leaves no backup marked good and no whole-looking file', async () => {
    const { command, args, env } = npmScript('cli')
    const child = spawn(command, [...args, 'backups', 'create'], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...data.env },
      stdio: 'ignore',
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    )
    // Killed while the snapshot copy or its upload is under way.
    await until(
      'the snapshot to start',
      () => (readdirSync(data.dir).some((f) => f.startsWith('.snapshot-')) ? true : undefined),
      60_000,
      2,
    )
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const rows = backupsRows()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.status).toBe('running') // never good; the retention job fails it later
    const folder = join(data.dir, 'backups', 'homeostat')
    const files = existsSync(folder) ? readdirSync(folder) : []
    expect(files.filter((f) => !f.endsWith('.partial'))).toEqual([])
  }, 120_000)

  it('create, drill, then restore a backup file into the stopped server’s database, keeping the old one', async () => {
    const created = await runCli(['backups', 'create'], data.env, 120_000)
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/backup \S+ good: \d+ bytes/)
    const good = backupsRows().find((r) => r.status === 'good')!
    const file = join(data.dir, 'backups', good.location)
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { rowCounts: Record<string, number> }
    expect(manifest.rowCounts.filler).toBe(20_000)

    const drill = await runCli(['backups', 'drill'], data.env, 120_000)
    expect(drill.code, drill.stderr).toBe(0)
    expect(drill.stdout).toMatch(/restore takes ≈ \d+ s/)

    // Changes after the backup, which the restore takes back.
    const db = new Database(dbPath())
    db.exec('delete from filler where id > 100')
    db.close()
    expect((await runCli(['backups', 'restore', 'no-such-id', '--yes'], data.env)).code).not.toBe(0)
    const restored = await runCli(['backups', 'restore', file, '--yes'], data.env, 120_000)
    expect(restored.code, restored.stderr).toBe(0)
    const keptAs = /kept as (\S+)/.exec(restored.stdout)![1]!
    expect(existsSync(keptAs)).toBe(true)
    expect(counts(keptAs).filler).toBe(100)
    const now = counts(dbPath())
    expect(now.filler).toBe(20_000)
    for (const [table, n] of Object.entries(manifest.rowCounts))
      if (!['backups', 'backup_restores', 'audit_log'].includes(table)) expect(now[table], table).toBe(n)
    // The catalog kept every backup, the restored one good, and the log says what happened.
    const rows = backupsRows()
    expect(rows.find((r) => r.id === good.id)?.status).toBe('good')
    const audit = new Database(dbPath(), { readonly: true })
    const restoredRows = audit.prepare("select count(*) as n from audit_log where action = 'backup.restored'").get()
    expect((restoredRows as { n: number }).n).toBe(1)
    audit.close()
  }, 240_000)
})
