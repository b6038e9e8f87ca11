import { createRegistry } from './prom.ts'

const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Homeostat's own instruments, served at /metrics. */
export function createTelemetry(version: string, runtime: string) {
  const registry = createRegistry()
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
    httpRequests: registry.counter('http_requests_total', 'HTTP requests by method, route and status'),
    httpDuration: registry.histogram(
      'http_request_duration_seconds',
      'HTTP request duration by method and route',
      durationBuckets,
    ),
    dbQuery: registry.histogram('db_query_duration_seconds', 'Database statement and batch duration', durationBuckets),
    notificationsDead: registry.counter(
      'homeostat_notifications_dead_total',
      'Notifications that gave up (dead) by channel; each raises a homeostat_notification_failed alert',
    ),
    jobRuns: registry.counter('job_runs_total', 'Job ticks by job and outcome (ran, failed, skipped, not_leader)'),
    jobDuration: registry.histogram(
      'job_run_duration_seconds',
      'Job tick duration',
      [0.01, 0.1, 0.5, 1, 5, 15, 60, 300],
    ),
  }
}
export type Telemetry = ReturnType<typeof createTelemetry>
