import { Cron } from 'croner'
import * as v from 'valibot'
import { logLevels } from './lib/logger.ts'
import { parseOutboundAllow } from './lib/outbound-policy.ts'

const int = (min: number, max: number, fallback: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+$/, `must be a whole number from ${min} to ${max}`),
      v.transform(Number),
      v.minValue(min, `must be a whole number from ${min} to ${max}`),
      v.maxValue(max, `must be a whole number from ${min} to ${max}`),
    ),
    String(fallback),
  )

const bool = (fallback: boolean) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(['true', 'false', '1', '0', 'yes', 'no'], 'must be true or false'),
      v.transform((s) => s === 'true' || s === '1' || s === 'yes'),
    ),
    String(fallback),
  )

const url = (schemes: string[]) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      (s) => schemes.some((scheme) => s === scheme || s.startsWith(`${scheme}:`)),
      `must start with ${schemes.join(', ')}`,
    ),
  )

const optionalText = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.transform((s) => (s === '' ? undefined : s)),
  ),
)

/** An IANA time zone name (checked by Intl, as croner uses it). */
const timezone = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: s })
          return true
        } catch {
          return false
        }
      }, 'must be an IANA time zone such as Europe/Berlin'),
    ),
    fallback,
  )
/** A Croner pattern (5 or 6 fields), checked by Croner itself so a typo stops start-up. */
const cron = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => {
        try {
          new Cron(s, { paused: true }).stop()
          return true
        } catch {
          return false
        }
      }, 'must be a cron pattern like */5 * * * *'),
    ),
    fallback,
  )

/** Every environment variable Homeostat reads. The README lists each of them. */
export const ConfigSchema = v.object({
  PORT: int(0, 65535, 8787),
  HOST: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty')), '0.0.0.0'),
  PUBLIC_URL: v.optional(v.pipe(url(['http', 'https']), v.url('must be an absolute http(s) URL'))),
  DATA_DIR: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty')), 'data'),
  DATABASE_URL: v.optional(url(['file', ':memory:', 'libsql', 'https', 'http', 'ws', 'wss']), 'file:data/homeostat.db'),
  DATABASE_AUTH_TOKEN: optionalText,
  DATABASE_SYNC_URL: v.optional(url(['libsql', 'https', 'http', 'ws', 'wss'])),
  DATABASE_SYNC_INTERVAL: int(0, 86_400, 60),
  DATABASE_SYNCHRONOUS: v.optional(v.picklist(['normal', 'full'], 'must be normal or full'), 'normal'),
  SECRET_KEY: v.optional(v.pipe(v.string(), v.trim(), v.minLength(32, 'must be at least 32 characters'))),
  ADMIN_EMAIL: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.email('must be an email address'))),
  ADMIN_PASSWORD: v.optional(v.pipe(v.string(), v.minLength(12, 'must be at least 12 characters'))),
  LOG_LEVEL: v.optional(v.picklist(logLevels, `must be one of ${logLevels.join(', ')}`), 'info'),
  TRUST_PROXY: bool(false),
  TRUSTED_PROXY_COUNT: int(1, 20, 1),
  SESSION_TTL_HOURS: int(1, 24 * 90, 12),
  /** Absolute lifetime of a session from sign-in: never extended past this, however active. */
  SESSION_MAX_HOURS: int(1, 24 * 365, 720),
  /** log2 of scrypt's N for new password hashes: 17 (N = 2^17, OWASP's minimum); lower only in tests. */
  PASSWORD_HASH_COST: int(10, 18, 17),
  /** Days audit rows are kept; the housekeeping job deletes older ones. */
  AUDIT_RETENTION_DAYS: int(1, 36_500, 365),
  SETUP_TOKEN_TTL_MINUTES: int(1, 24 * 60, 60),
  REQUIRE_ADMIN_2FA: bool(false),
  LOGIN_MAX_FAILURES: int(1, 100, 5),
  LOGIN_LOCKOUT_MINUTES: int(1, 24 * 60, 15),
  BODY_LIMIT_BYTES: int(1024, 1024 ** 3, 1024 * 1024),
  INGEST_BODY_LIMIT_BYTES: int(1024, 1024 ** 3, 16 * 1024 * 1024),
  IP_RATE_LIMIT_PER_SECOND: int(1, 1_000_000, 100),
  // A fleet behind one NAT address whose agents push on the same tick: 200 agents' batch and heartbeat
  // land together (400), which a burst of 400 met with nothing to spare (docs/security.md, ADR 0017).
  IP_RATE_LIMIT_BURST: int(1, 1_000_000, 1000),
  RATE_LIMIT_PER_SECOND: int(1, 1_000_000, 50),
  RATE_LIMIT_BURST: int(1, 1_000_000, 200),
  INGEST_RATE_LIMIT_PER_SECOND: int(1, 1_000_000, 1000),
  INGEST_RATE_LIMIT_BURST: int(1, 1_000_000, 5000),
  LOGIN_RATE_LIMIT_PER_MINUTE: int(1, 10_000, 10),
  JOBS_ENABLED: bool(true),
  /**
   * Seconds a notification being sent is held before it may be claimed again (a send cut off by a
   * crash is sent again after it). Above the 10 s send timeout with room: a shorter lease would let a
   * slow send be claimed, and sent, twice.
   */
  NOTIFICATION_LEASE_SECONDS: int(15, 86_400, 60),
  JOB_RUNS_RETENTION_DAYS: int(1, 3650, 30),
  METRICS_PUBLIC: bool(false),
  /** Also serve /metrics families under their names before 0.2 (docs/metrics.md#renamed-metrics); goes in 0.3. */
  METRICS_LEGACY_NAMES: bool(true),
  /** Points one ingest request may carry: a JSON batch, and the series and samples of one remote write request. */
  METRICS_MAX_BATCH: int(1, 1_000_000, 10_000),
  /** Series one metric name may have; a write that would create more is refused whole (400 naming the metric). */
  METRICS_MAX_SERIES_PER_METRIC: int(1, 100_000_000, 10_000),
  /** Bytes a remote write body may decompress to, whatever INGEST_BODY_LIMIT_BYTES allows (refused from snappy's header, before decompressing). */
  METRICS_REMOTE_WRITE_MAX_DECODED_BYTES: int(1024, 1024 ** 3, 32 * 1024 * 1024),
  // How often new raw points are moved from the write inbox into the series-ordered points table.
  METRICS_INBOX_MOVE_MS: int(100, 60_000, 1000),
  RETENTION_RAW_DAYS: int(1, 36_500, 7),
  RETENTION_1M_DAYS: int(1, 36_500, 30),
  RETENTION_1H_DAYS: int(1, 36_500, 90),
  RETENTION_1D_DAYS: int(1, 36_500, 730),
  /** Seconds between probes of model route targets (1–59); 0 turns the probe job off. */
  MODEL_ROUTE_PROBE_INTERVAL_SECONDS: int(0, 59, 1),
  /** JSON allow-list of commands the service_restart healing action may run; unset = that action type is off. */
  HEALING_COMMANDS_FILE: optionalText,
  /** JSON allow-list of the commands backup targets of kind `command` may run (and restore with); unset = that kind is off. */
  BACKUP_COMMANDS_FILE: optionalText,
  /** Days finished healing actions (with their timelines) and breaker/route history are kept; statistics look back 30 days. */
  HEALING_HISTORY_DAYS: int(31, 36_500, 90),
  /** When n8n workflows are pulled for their version history (Croner pattern, UTC). */
  WORKFLOW_PULL_CRON: cron('*/5 * * * *'),
  /** Most calls a second a workflow pull makes to one n8n instance. */
  WORKFLOW_PULL_MAX_RPS: int(1, 100, 5),
  /** Count a node moved on the canvas as a new workflow version (off: only what changes behaviour counts). */
  WORKFLOW_HISTORY_POSITIONS: bool(false),
  /**
   * Encrypts backups: `passphrase:<text>` (at least 12 characters), an age identity
   * `AGE-SECRET-KEY-1…` (encrypts to its recipient, and can decrypt to verify and restore), or an age
   * recipient `age1…` (the key stays off this machine; see docs/backups.md). Unset: not encrypted.
   */
  BACKUP_ENCRYPTION: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(
        (s) => /^passphrase:.{12,}$/s.test(s) || /^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(s) || /^age1[0-9a-z]+$/.test(s),
        'must be passphrase:<at least 12 characters>, an age identity (AGE-SECRET-KEY-1…) or an age recipient (age1…)',
      ),
    ),
  ),
  /** The folder of the local backup destination; default `$DATA_DIR/backups`. */
  BACKUP_DIR: optionalText,
  /** When n8n executions are read for workflow health (Croner pattern, UTC). */
  N8N_POLL_CRON: cron('* * * * *'),
  /** Most calls a second a workflow health poll makes to one n8n instance. */
  N8N_POLL_MAX_RPS: int(1, 100, 5),
  /** The longest grace window after an expected scheduled run before n8n_schedule_missed (half the interval when shorter, at least 60 s). */
  N8N_SCHEDULE_GRACE_SECONDS: int(60, 86_400, 300),
  /** A workflow whose last N executions failed is `failing`. */
  N8N_FAILING_AFTER: int(1, 1000, 3),
  /** A workflow whose failure rate over 24 h is above this percentage is `degraded`. */
  N8N_DEGRADED_PERCENT: int(1, 100, 20),
  /** The time zone of schedules in workflows that set none (n8n's GENERIC_TIMEZONE; n8n's own default is America/New_York). */
  N8N_DEFAULT_TIMEZONE: timezone('America/New_York'),
  /** Days executions read from n8n are kept for the workflow pages and rates. */
  N8N_EXECUTIONS_RETENTION_DAYS: int(1, 3650, 30),
  /** Destinations outbound calls may reach although internal (loopback, private, link-local…); see docs/security.md. */
  OUTBOUND_ALLOW: v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return parseOutboundAllow(dataset.value)
        } catch (error) {
          addIssue({ message: (error as Error).message })
          return NEVER
        }
      }),
    ),
    '',
  ),
})

export type RawConfig = v.InferOutput<typeof ConfigSchema>
export type Config = RawConfig & { PUBLIC_URL: string }

export class ConfigError extends Error {}

/** Validates the environment. Throws one ConfigError naming every bad variable and what it allows. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.entries)
      .map((k) => [k, env[k]])
      .filter(([, value]) => value !== undefined),
  )
  const result = v.safeParse(ConfigSchema, known)
  if (!result.success) {
    const lines = result.issues.map((issue) => {
      const name = v.getDotPath(issue) ?? '?'
      return `  ${name}=${JSON.stringify(redactValue(name, String(env[name])))}: ${issue.message}`
    })
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`)
  }
  const cfg = result.output
  if (cfg.DATABASE_SYNC_URL && !cfg.DATABASE_URL.startsWith('file:')) {
    throw new ConfigError(
      'Invalid configuration:\n  DATABASE_SYNC_URL: needs DATABASE_URL to be a file: URL (the embedded replica)',
    )
  }
  if ((cfg.ADMIN_EMAIL === undefined) !== (cfg.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('Invalid configuration:\n  ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither')
  }
  const host = cfg.HOST === '0.0.0.0' || cfg.HOST === '::' ? 'localhost' : cfg.HOST
  return { ...cfg, PUBLIC_URL: (cfg.PUBLIC_URL ?? `http://${host}:${cfg.PORT}`).replace(/\/$/, '') }
}

// Secret variables are hidden whole; in any other value, URL credentials and tokens are.
const redactValue = (name: string, value: string) =>
  /PASSWORD|SECRET|TOKEN|ENCRYPTION/.test(name)
    ? '[redacted]'
    : value
        .replace(/(\/\/[^/@:?#]*):[^/@?#]*@/, '$1:[redacted]@')
        .replace(/((?:auth)?token|password|secret|key)=[^&#]*/gi, '$1=[redacted]')
