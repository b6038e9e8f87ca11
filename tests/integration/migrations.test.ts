import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb } from '../../db/client.ts'
import { MigrationError, migrationsFolder, migrationStatus, runMigrations } from '../../db/migrate.ts'

let dir: string
let opened: Awaited<ReturnType<typeof openDb>>
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homeostat-migrate-'))
  opened = await openDb({ url: `file:${join(dir, 'db', 'test.db')}` })
})
afterEach(() => {
  opened.client.close()
  rmSync(dir, { recursive: true, force: true })
})

const tables = async () =>
  (
    (
      await opened.client.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
      )
    ).rows as unknown as { name: string }[]
  ).map((r) => r.name)
const applied = async () =>
  Number((await opened.client.execute('select count(*) as n from __drizzle_migrations')).rows[0]?.n)

/** A migrations folder in drizzle-kit's layout: meta/_journal.json and one .sql file per entry. */
function writeMigrations(folder: string, migrations: { tag: string; sql: string[] }[]) {
  mkdirSync(join(folder, 'meta'), { recursive: true })
  const entries = migrations.map((m, idx) => ({
    idx,
    version: '6',
    when: 1_700_000_000_000 + idx * 1000,
    tag: m.tag,
    breakpoints: true,
  }))
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'sqlite', entries }))
  for (const m of migrations) writeFileSync(join(folder, `${m.tag}.sql`), m.sql.join('\n--> statement-breakpoint\n'))
}

const base = {
  tag: '0000_base',
  sql: ['CREATE TABLE `base_t` (`id` integer PRIMARY KEY);', 'INSERT INTO `base_t` VALUES (1);'],
}
const bad = {
  tag: '0001_bad',
  sql: [
    'CREATE TABLE `good_table` (`id` integer);',
    'INSERT INTO `good_table` VALUES (1);',
    'INSERT INTO `missing_table` VALUES (1);',
  ],
}

describe('a failed migration leaves the database as it was', () => {
  it('a bad statement after a good CREATE TABLE undoes the whole migration', async () => {
    const folder = join(dir, 'migrations')
    writeMigrations(folder, [base])
    await migrate(opened.db, { migrationsFolder: folder })
    expect(await tables()).toEqual(['__drizzle_migrations', 'base_t'])

    writeMigrations(folder, [base, bad])
    const error = await migrate(opened.db, { migrationsFolder: folder }).then(
      () => null,
      (e: unknown) => e as Error,
    )
    expect(error).toBeInstanceOf(Error)
    const messages = [error!.message, (error!.cause as Error | undefined)?.message].join(' ')
    expect(messages).toMatch(/missing_table/)
    expect(await tables()).toEqual(['__drizzle_migrations', 'base_t'])
    expect(await applied()).toBe(1)
    expect((await opened.client.execute('select count(*) as n from base_t')).rows[0]?.n).toBe(1)
  })

  it('when several migrations are pending, a failure in a later one undoes the earlier ones too', async () => {
    const folder = join(dir, 'migrations')
    writeMigrations(folder, [base, bad])
    await expect(migrate(opened.db, { migrationsFolder: folder })).rejects.toThrow()
    expect(await tables()).toEqual(['__drizzle_migrations'])
    expect(await applied()).toBe(0)
  })

  it('runMigrations names the failure, changes nothing, and a fixed database then migrates', async () => {
    // A table in the way makes the shipped first migration fail part-way.
    await opened.client.execute('CREATE TABLE `users` (`legacy` text)')
    const error = await runMigrations(opened.db).then(
      () => null,
      (e: unknown) => e as Error,
    )
    expect(error).toBeInstanceOf(MigrationError)
    expect(error!.message).toMatch(/^Database migration failed, nothing was changed: .*users.*already exists/)
    expect(await tables()).toEqual(['__drizzle_migrations', 'users'])
    expect(await applied()).toBe(0)
    expect((await migrationStatus(opened.db)).current).toBe(false)

    await opened.client.execute('DROP TABLE `users`')
    await runMigrations(opened.db)
    const status = await migrationStatus(opened.db)
    const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
      entries: unknown[]
    }
    expect(status).toEqual({ expected: journal.entries.length, applied: journal.entries.length, current: true })
    expect(await tables()).toEqual(
      expect.arrayContaining(['users', 'sessions', 'api_keys', 'audit_log', 'job_runs', 'job_leases']),
    )
  })

  it('running the migrations again is a no-op', async () => {
    await runMigrations(opened.db)
    const before = await tables()
    const n = await applied()
    await runMigrations(opened.db)
    expect(await tables()).toEqual(before)
    expect(await applied()).toBe(n)
  })
})
