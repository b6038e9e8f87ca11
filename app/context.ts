import type { Context } from 'hono'
import type { Role } from '../db/schema/auth.ts'
import type { Db } from '../db/client.ts'
import type { Config } from './config.ts'
import type { DiskWatch } from './lib/disk-full.ts'
import type { Sealer } from './lib/crypto.ts'
import type { AppError } from './lib/errors.ts'
import type { Logger } from './lib/logger.ts'
import type { Telemetry } from './lib/telemetry.ts'
import type { Scheduler } from './lib/scheduler.ts'

/** Who is calling: a signed-in user (cookie session) or an API key. */
export type Principal = {
  kind: 'session' | 'key'
  id: string // user id or key id
  name: string // email or key prefix
  role: Role
  scopes: string[]
  /** The alert source a bound ingest key reports as; it cannot report as, or touch, another. */
  source?: string
  userId?: string
  sessionId?: string
  csrfToken?: string
  /** An admin who must enrol in two-factor sign-in before doing anything else. */
  mustEnrol2fa?: boolean
  /** The user's chosen theme; absent: the page follows the system's. */
  theme?: 'light' | 'dark'
}

export type AppEnv = {
  Variables: {
    requestId: string
    ip: string
    principal: Principal | null
    authError: AppError | null
    /**
     * An answer the route made with its complete header set, security headers included, built once
     * and kept (the public status pages): the pipeline then adds only X-Request-Id to it.
     */
    completeAnswer?: Response
  }
}

export type Deps = {
  config: Config
  db: Db
  log: Logger
  sealer: Sealer
  telemetry: Telemetry
  scheduler?: Scheduler
  /** Whether the disk under the database is full (a write failed with SQLITE_FULL): 507s and /ready. */
  disk?: DiskWatch
  /** The runtime's full garbage collection, where it offers one (Bun): the server passes it (ADR 0026). */
  collect?: () => void
  /** The client address as the runtime's server saw it; tests have none. */
  remoteAddress?: (c: Context) => string | undefined
  now?: () => number
}

export const actorOf = (p: Principal | null) => (p ? `${p.kind === 'key' ? 'key' : 'user'}:${p.name}` : 'anonymous')
/** Who the request acts as, for audit rows and events. */
export const actor = (c: Context<AppEnv>) => actorOf(c.get('principal'))

/**
 * What every module's routes, pages and jobs may take: the platform pieces above. A module that needs
 * a service (the metric store, the alerts service, …) asks for it by name beside these; the
 * composition root (app/services.ts) hands every module the same built-once services.
 */
export type ModuleDeps = Deps
