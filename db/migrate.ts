import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { migrate } from 'drizzle-orm/libsql/migrator'
import type { Db } from './client.ts'

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url))

export class MigrationError extends Error {}

/**
 * Applies pending migrations. libSQL runs them in one transaction, so a failure leaves the
 * database as it was; the error names the migration that failed.
 */
export async function runMigrations(db: Db) {
  try {
    await migrate(db, { migrationsFolder })
  } catch (error) {
    const cause =
      error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)
    throw new MigrationError(`Database migration failed, nothing was changed: ${cause}`)
  }
}

/** Migrations shipped with this build and how many of them the database has applied. */
export async function migrationStatus(db: Db) {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: unknown[] }
  const rows = await db.all<{ n: number }>(sql`select count(*) as n from __drizzle_migrations`).catch(() => [{ n: 0 }])
  const applied = rows[0]?.n ?? 0
  return { expected: journal.entries.length, applied, current: applied >= journal.entries.length }
}

// `npm run db:migrate`: the same migrations, without starting the server.
if (import.meta.main) {
  const { loadConfig, ConfigError } = await import('../app/config.ts')
  const { openDb } = await import('./client.ts')
  try {
    const config = loadConfig(process.env)
    const { db, client } = await openDb({
      url: config.DATABASE_URL,
      authToken: config.DATABASE_AUTH_TOKEN,
      syncUrl: config.DATABASE_SYNC_URL,
    })
    await runMigrations(db)
    const status = await migrationStatus(db)
    console.log(`Migrations applied: ${status.applied} of ${status.expected}`)
    client.close()
  } catch (error) {
    console.error(error instanceof ConfigError || error instanceof MigrationError ? error.message : error)
    process.exit(1)
  }
}
