import { ConfigError, loadConfig, type Config } from './config.ts'
import { openDb } from '../db/client.ts'
import { MigrationError, runMigrations } from '../db/migrate.ts'
import { createSealer } from './lib/crypto.ts'
import { createLogger } from './lib/logger.ts'
import { loadSecretKey } from './lib/secret.ts'
import { upgradeSealedSecrets } from './secrets-upgrade.ts'
import { createTelemetry } from './lib/telemetry.ts'
import { VERSION } from './modules/system/index.ts'

export const runtimeName = () => ('Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node')

/**
 * A full, synchronous garbage collection, where the runtime offers one (Bun's `Bun.gc(true)`; Deno
 * and Node only behind a flag): after a burst of work (a full move of the points inbox) it gives the
 * heap back at once instead of letting the next burst grow it further (ADR 0026).
 */
export const fullCollection = (): (() => void) | undefined => {
  const bun = (globalThis as { Bun?: { gc?: (force: boolean) => void } }).Bun
  return bun?.gc && (() => bun.gc!(true))
}

/**
 * What the server and the CLI share: validated config, the opened and migrated database (its sealed
 * secrets bound to their rows, once), the sealer for secrets. Config and migration errors end the
 * process with one clear message.
 */
export async function boot(env: Record<string, string | undefined>, opts: { quiet?: boolean } = {}) {
  let config: Config
  try {
    config = loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) exit(error.message)
    throw error
  }
  const log = createLogger(opts.quiet ? 'warn' : config.LOG_LEVEL, { service: 'homeostat' })
  const telemetry = createTelemetry(VERSION, runtimeName(), { legacyNames: config.METRICS_LEGACY_NAMES })
  const secret = loadSecretKey(config.SECRET_KEY, config.DATA_DIR)
  if (secret.generated) log.info('generated a secret key', { file: `${config.DATA_DIR}/secret.key` })
  let opened: Awaited<ReturnType<typeof openDb>>
  try {
    opened = await openDb({
      url: config.DATABASE_URL,
      authToken: config.DATABASE_AUTH_TOKEN,
      syncUrl: config.DATABASE_SYNC_URL,
      syncIntervalSeconds: config.DATABASE_SYNC_INTERVAL,
      synchronous: config.DATABASE_SYNCHRONOUS,
      onQuery: (s) => telemetry.dbQuery.observe({}, s),
      // Once per episode, not per refused write (ADR 0027).
      onLockChange: (locked) =>
        locked
          ? log.warn('database locked by another process: writes answer 503 at once until it lets go')
          : log.info('database lock released: writes resume'),
    })
  } catch (error) {
    exit(
      `Cannot open the database at ${config.DATABASE_URL}: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
  try {
    await runMigrations(opened.db)
  } catch (error) {
    opened.client.close()
    if (error instanceof MigrationError) exit(error.message)
    throw error
  }
  const sealer = createSealer(secret.key)
  try {
    // Before anything reads a secret: from here on, sealed values open only bound to their row and field.
    await upgradeSealedSecrets(opened.db, sealer, log)
  } catch (error) {
    opened.client.close()
    exit(`Binding sealed secrets to their rows failed, nothing was changed: ${(error as Error)?.message ?? error}`)
  }
  return { config, log, telemetry, sealer, ...opened }
}

function exit(message: string): never {
  console.error(message)
  process.exit(1)
}
