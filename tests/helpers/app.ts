import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { loadConfig } from '../../app/config.ts'
import { createRoot } from '../../app/root.ts'
import { createServices } from '../../app/services.ts'
import { createSealer, sha256 } from '../../app/lib/crypto.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { createTelemetry } from '../../app/lib/telemetry.ts'
import { createApiKey } from '../../app/modules/auth/keys.ts'
import { createUser } from '../../app/modules/auth/users.ts'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { sessions, type Role } from '../../db/schema/auth.ts'

export const PASSWORD = 'correct horse battery staple'
/** The SECRET_KEY of every test app's sealer (a test booting the server on its database passes the same). */
export const TEST_SECRET_KEY = 'test-secret-key-that-is-long-enough-123'

/** `OUTBOUND_ALLOW` for tests: loopback only (127.0.0.0/8, ::1 and the name localhost). */
export const LOOPBACK_ALLOW = '127.0.0.0/8,::1,localhost'

/**
 * The real app over a real libSQL file in a temp folder. Rate limits are high unless a test sets
 * them; jobs are registered but not started (tests run ticks themselves). `now` replaces the clock
 * of the whole app (routes, services and the request pipeline's rate limits), for tests that compress time;
 * `collect` stands for the runtime's full collection the server passes (ADR 0026).
 */
export async function testApp(
  env: Record<string, string> = {},
  platform: { now?: () => number; collect?: () => void } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-test-'))
  const config = loadConfig({
    DATABASE_URL: `file:${join(dir, 'test.db')}`,
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    JOBS_ENABLED: 'false',
    IP_RATE_LIMIT_BURST: '1000000',
    RATE_LIMIT_BURST: '1000000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
    // Cheap password hashes keep the suite fast; production's default (2^17) is tested on its own.
    PASSWORD_HASH_COST: '10',
    // The local servers tests call (receivers, fake n8n, fake model hosts) listen on loopback, which
    // the outbound policy refuses unless allowed. Tests send traffic nowhere else.
    OUTBOUND_ALLOW: LOOPBACK_ALLOW,
    ...env,
  })
  const { db, client } = await openDb({ url: config.DATABASE_URL })
  await runMigrations(db)
  const log = createLogger((process.env.TEST_LOG as 'error' | undefined) ?? 'silent')
  const sealer = createSealer(TEST_SECRET_KEY)
  const telemetry = createTelemetry('test', 'node', { legacyNames: config.METRICS_LEGACY_NAMES })
  const { app, scheduler, services } = createRoot({
    config,
    db,
    log,
    sealer,
    telemetry,
    now: platform.now,
    collect: platform.collect,
  })

  let n = 0
  async function user(role: Role, email = `${role}${++n}@example.com`) {
    return createUser(db, { email, role, password: PASSWORD, name: role, passwordCost: config.PASSWORD_HASH_COST })
  }

  /** An API key's headers; `source` binds it to one alert source. */
  async function key(role: Role, scopes: string[] = [], source?: string) {
    const { key } = await createApiKey(db, { name: `${role}-key`, role, scopes, source })
    return { key, headers: { Authorization: `Bearer ${key}` } }
  }

  /** Signs in through the login form; returns the cookie and CSRF headers of the session. */
  async function login(email: string, password = PASSWORD) {
    const res = await app.request('/login', {
      method: 'POST',
      body: new URLSearchParams({ email, password }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    })
    const cookie = res.headers.get('set-cookie')?.match(/hs_session=([^;]+)/)?.[1]
    if (!cookie) throw new Error(`login failed: ${res.status} ${await res.text()}`)
    const [row] = await db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sha256(cookie)))
    return {
      res,
      token: cookie,
      csrf: row!.csrfToken,
      headers: { Cookie: `hs_session=${cookie}`, 'X-CSRF-Token': row!.csrfToken },
    }
  }

  async function session(role: Role) {
    const u = await user(role)
    return { user: u, ...(await login(u.email)) }
  }

  const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method,
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', ...headers },
    })

  function close() {
    client.close()
    rmSync(dir, { recursive: true, force: true })
  }

  return {
    app,
    db,
    client,
    config,
    dir,
    sealer,
    telemetry,
    scheduler,
    services,
    user,
    key,
    login,
    session,
    json,
    close,
  }
}
export type TestApp = Awaited<ReturnType<typeof testApp>>

/** API key headers for the roles most API tests act as: operator, viewer, and a viewer with the ingest scope. */
export async function roleHeaders(t: TestApp): Promise<Record<'op' | 'viewer' | 'ingest', Record<string, string>>> {
  return {
    op: (await t.key('operator')).headers,
    viewer: (await t.key('viewer')).headers,
    ingest: (await t.key('viewer', ['ingest'])).headers,
  }
}

/**
 * Another instance of Homeostat on the test app's database: its own connection and its own alerts
 * service (made as the composition root makes it), so its own alert cache, group commit, turns and
 * silences, like a second server. Close it before the app.
 */
export async function otherInstance(t: TestApp) {
  const other = await openDb({ url: t.config.DATABASE_URL })
  // A second server's services over its own connection: its own alert cache, group commit and turns.
  const { alerts } = createServices({ ...t.services, db: other.db, scheduler: undefined })
  return { db: other.db, alerts, close: () => other.client.close() }
}
