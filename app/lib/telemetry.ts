import { createRegistry } from './prom.ts'

const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export type TelemetryOptions = {
  /** Also serve the names used before 0.2 (METRICS_LEGACY_NAMES); removed in the next release. */
  legacyNames?: boolean
}

/**
 * Homeostat's own instruments, served at /metrics. Names follow Prometheus' conventions
 * (docs/metrics.md#homeostats-own-metrics): `homeostat_` for what is the server's own, base units
 * (`_seconds`, `_bytes`), counters end in `_total`; `process_*` keep the names every client library
 * uses for them. A family renamed in 0.2 names its old name as `deprecated`.
 */
export function createTelemetry(version: string, runtime: string, options: TelemetryOptions = {}) {
  const registry = createRegistry({ legacyNames: options.legacyNames ?? true })
  const startedAt = Date.now() / 1000
  registry.gauge('homeostat_build_info', 'Version and runtime of this server', () => [
    { labels: { version, runtime }, value: 1 },
  ])
  registry.gauge('process_start_time_seconds', 'Start time of the process since the epoch', () => [
    { value: startedAt },
  ])
  registry.gauge('process_resident_memory_bytes', 'Resident memory', () => [{ value: process.memoryUsage().rss }])
  const seriesRefused = registry.counter(
    'homeostat_series_refused_total',
    'New series refused by the per-metric series limit (METRICS_MAX_SERIES_PER_METRIC)',
  )
  seriesRefused.inc({}, 0) // shown from the start, so a rate over it has a beginning
  return {
    registry,
    seriesRefused,
    httpRequests: registry.counter('homeostat_http_requests_total', 'HTTP requests by method, route and status', {
      deprecated: 'http_requests_total',
    }),
    httpDuration: registry.histogram(
      'homeostat_http_request_duration_seconds',
      'HTTP request duration by method and route',
      durationBuckets,
      { deprecated: 'http_request_duration_seconds' },
    ),
    dbQuery: registry.histogram(
      'homeostat_db_query_duration_seconds',
      'Database statement and batch duration',
      durationBuckets,
      { deprecated: 'db_query_duration_seconds' },
    ),
    notificationsDead: registry.counter(
      'homeostat_notifications_dead_total',
      'Notifications that gave up (dead) by channel; each raises a homeostat_notification_failed alert',
    ),
    jobRuns: registry.counter(
      'homeostat_job_runs_total',
      'Job ticks by job and outcome (ran, failed, skipped, not_leader, locked)',
      { deprecated: 'job_runs_total' },
    ),
    jobDuration: registry.histogram(
      'homeostat_job_run_duration_seconds',
      'Job tick duration',
      [0.01, 0.1, 0.5, 1, 5, 15, 60, 300],
      { deprecated: 'job_run_duration_seconds' },
    ),
  }
}
export type Telemetry = ReturnType<typeof createTelemetry>
