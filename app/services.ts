/**
 * The composition root's services: every long-lived service is built here once, from the config
 * and the database, and handed to the routes, pages and jobs that use it. No module keeps state
 * of its own in module-level registries; what must be shared (the alerts service, the metric
 * store, …) is made here and passed in.
 */
import { healingKick } from '../jobs/healing.ts'
import type { Deps } from './context.ts'
import { createOutboundPolicy } from './lib/outbound.ts'
import { createAlerts, watchIngest } from './modules/alerts/index.ts'
import { createKeyStore } from './modules/auth/index.ts'
import { backupCommands, createBackups, createWorkflowHistory } from './modules/backups/index.ts'
import { createPrices } from './modules/components/index.ts'
import { createHealing } from './modules/healing/index.ts'
import { createChangeFeed } from './modules/live/index.ts'
import { collectingEvery, createMetricStore, createOtlpMetrics } from './modules/metrics/index.ts'
import {
  createNotifier,
  type DeadNotifications,
  type Delivered,
  raiseNotificationFailed,
  resolveNotificationFailed,
} from './modules/notify/index.ts'
import { createN8nRetrier, createWorkflowHealth, createWorkflowValidator } from './modules/n8n/index.ts'
import { createPrompts, createRegistry, promptPort } from './modules/registry/index.ts'
import { createOtlpIntake, createRuns } from './modules/runs/index.ts'
import { createStatusPages } from './modules/status-pages/index.ts'

export function createServices(platform: Deps) {
  const { db, log } = platform
  const keys = createKeyStore(db)
  // The live change feed: modules announce what changed (a topic and ids), the dashboard's event
  // streams (GET /events) pass it on. Another instance's changes are not heard here: the pages'
  // slow fallback polling covers them (docs/dashboard.md#live-updates).
  const live = createChangeFeed()
  // The one outbound policy (OUTBOUND_ALLOW): every call to a URL a user configured (channels,
  // subscriptions, component checks, healing webhooks, n8n, probes, verifications) goes through it.
  const outbound = createOutboundPolicy(platform.config)
  // The notification outbox: its routing cache, its hook on alert changes, its sender and the
  // `notifications` job's tick; healing notices go out through it too.
  // A notification that gives up is counted and raises `homeostat_notification_failed` through the
  // alerts service (notify/dead.ts). That service is made after the notifier (the notifier's outbox
  // hook goes into it), so the notifier gets a function that calls `raiseDead`, assigned right after
  // `alerts` below: a late binding local to this call (no module state). Nothing sends while the
  // services are being made, so it is always set by the time a notification can die.
  let raiseDead: ((dead: DeadNotifications) => Promise<void>) | undefined
  // The same late binding: a channel that delivers again resolves its failure alerts.
  let resolveDead: ((delivered: Delivered) => Promise<void>) | undefined
  const notifier = createNotifier({
    db,
    sealer: platform.sealer,
    config: platform.config,
    outbound,
    log: log.child({ module: 'notify' }),
    onDead: async (dead) => {
      platform.telemetry.notificationsDead.inc(
        { channel: dead.channel?.name ?? (dead.rows[0]?.subscriptionId ? 'subscription' : 'deleted') },
        dead.rows.length,
      )
      await raiseDead?.(dead)
    },
    onDelivered: (delivered) => resolveDead?.(delivered),
  })
  // Every alert state change runs its silences' hook first (it sets the `silenced` flag), then these,
  // in its own transaction: the notification outbox reads the flag last.
  // The live feed hears the changes that record events (created, fired, acknowledged, resolved; a
  // quiet repeat is not news) once they are committed, so a page refreshed on it reads them.
  const alerts = createAlerts({
    db,
    log,
    hooks: [notifier.outboxHook],
    changed: (ids) => live.publish('alerts', ids),
  })
  raiseDead = (dead) => raiseNotificationFailed(alerts, dead)
  resolveDead = (delivered) => resolveNotificationFailed(db, alerts, delivered)
  // The LLM price table in memory: the ingest derives cost from it, the price routes invalidate it.
  const prices = createPrices(db)
  // One metric store for every writer: token counts become llm_cost_usd_total points by the price table
  // in the same batch, and after a committed write the rules watching the written metrics run.
  // Both stores refuse new series past METRICS_MAX_SERIES_PER_METRIC, each keeping its own count
  // per metric (recounted before refusing, so the other store's series are seen).
  const seriesLimit = {
    maxSeriesPerMetric: platform.config.METRICS_MAX_SERIES_PER_METRIC,
    onSeriesRefused: (n: number) => platform.telemetry.seriesRefused.inc({}, n),
  }
  // The same point announces the written metric names to the live feed (coalesced per flush).
  // Ingest collects the heap every COLLECT_EVERY_SAMPLES samples where the runtime allows (ADR 0026).
  const ingestStore = createMetricStore(db, { derive: prices.deriveCost, ...seriesLimit })
  const collected = platform.collect ? collectingEvery(ingestStore, platform.collect) : ingestStore
  const metricStore = watchIngest(collected, (names) => {
    alerts.evaluateRulesFor(names)
    live.publish('metrics', [...names])
  })
  // The components' own series (check latency, heartbeats): no price derivation, and rules over
  // them run at their tick rather than after each write.
  const statusStore = createMetricStore(db, seriesLimit)
  // n8n workflow history: pulls through the outbound policy, spaced per instance (WORKFLOW_PULL_MAX_RPS).
  const workflowHistory = createWorkflowHistory({
    db,
    sealer: platform.sealer,
    outbound,
    log: log.child({ module: 'backups' }),
    positions: platform.config.WORKFLOW_HISTORY_POSITIONS,
    maxRps: platform.config.WORKFLOW_PULL_MAX_RPS,
  })
  // Healing, made once: breakers, model routes, the orchestrator and what each keeps in this process.
  // `kick` runs the healing job now (a breaker opened, an action was approved) on this scheduler.
  const healingLog = log.child({ module: 'healing' })
  // The n8n module's capped retry of failed executions, which the healing n8n_retry action calls.
  const n8nRetry = createN8nRetrier({ db, sealer: platform.sealer, outbound, log: log.child({ module: 'n8n' }) })
  // The model registry: deploys through the outbound policy, registry events to webhook subscriptions
  // through the outbox. Moving an alias drops the model-route answer cache (routes may follow aliases);
  // `healing` is made just below and nothing moves an alias while the services are being made.
  const registry = createRegistry({
    db,
    sealer: platform.sealer,
    outbound,
    now: platform.now,
    log: log.child({ module: 'registry' }),
    emit: notifier.emit,
    onAliasMoved: () => healing.modelRoutes.invalidate(),
  })
  // The prompt registry: its cached read for agents, and its changes sent to the webhook
  // subscriptions that asked for them (a failed enqueue is logged; the change itself stands).
  const registryLog = log.child({ module: 'registry' })
  const prompts = createPrompts({
    db,
    onEvent: (event, data, at) =>
      notifier.emit(event, data, at).then(
        () => undefined,
        (error) => registryLog.error('queueing a registry event failed', { event, error: String(error) }),
      ),
  })
  const healing = createHealing({
    db,
    sealer: platform.sealer,
    config: platform.config,
    log: healingLog,
    outbound,
    alerts,
    delivery: notifier,
    kick: healingKick(platform.scheduler, healingLog),
    // workflow_rollback rolls back through the workflow history (backups imports healing, not the reverse).
    rollbackWorkflow: workflowHistory.rollback,
    n8nRetry,
    // Model routes naming `alias:<model>/<alias>` answer what the alias points at now (healing cannot import registry).
    resolveModel: registry.resolveModel,
    // The model_alias action moves aliases through the registry (audited, announced like a person's move).
    moveModelAlias: { move: registry.moveAliasTo },
    // prompt_rollback moves prompt labels through the registry (healing does not import it).
    prompts: promptPort(db, prompts),
    changed: (ids) => live.publish('healing', ids),
  })
  // A component check's result is also an outcome for the component's circuit breaker.
  const reportBreakerOutcome = (key: string, outcome: { ok: boolean; error?: string }, at: number) =>
    healing.breakers.report(key, outcome, at)
  // Backups of the database itself and of the guarded stores (Qdrant and S3 through the outbound
  // policy, commands from BACKUP_COMMANDS_FILE, read once here and again when the file changes):
  // `backup_failed`/`backup_missed` go through the alerts service. A live restore replaces the
  // database file under this process, so
  // what was cached from the old file is dropped (rules, routing, prices, series ids); the alert
  // cache needs nothing, as the reopened transaction thread starts a new epoch (ADR 0002).
  const backups = createBackups({
    db,
    config: platform.config,
    log: log.child({ module: 'backups' }),
    alerts,
    sealer: platform.sealer,
    outbound,
    commands: backupCommands(platform.config.BACKUP_COMMANDS_FILE),
    scheduler: platform.scheduler,
    now: platform.now,
    changed: (ids) => live.publish('backups', ids),
    onRestored: () => {
      alerts.invalidateRules()
      notifier.invalidateRouting()
      prices.invalidate()
      metricStore.clearCache()
      statusStore.clearCache()
    },
  })
  // The n8n workflow validator: reads an instance's workflows at the same pace as the history pull.
  const workflowValidator = createWorkflowValidator({
    db,
    sealer: platform.sealer,
    outbound,
    maxRps: platform.config.WORKFLOW_PULL_MAX_RPS,
  })
  // n8n workflow health: executions → metrics (through the ingest store, so rules watching them run
  // at once), states, failure classes and missed schedules → alerts.
  const workflowHealth = createWorkflowHealth({
    db,
    sealer: platform.sealer,
    outbound,
    log: log.child({ module: 'n8n' }),
    alerts,
    metrics: metricStore,
    maxRps: platform.config.N8N_POLL_MAX_RPS,
    graceMs: platform.config.N8N_SCHEDULE_GRACE_SECONDS * 1000,
    failingAfter: platform.config.N8N_FAILING_AFTER,
    degradedRate: platform.config.N8N_DEGRADED_PERCENT / 100,
    defaultTimezone: platform.config.N8N_DEFAULT_TIMEZONE,
    retentionDays: platform.config.N8N_EXECUTIONS_RETENTION_DAYS,
    changed: (ids) => live.publish('n8n', ids),
  })
  // Multi-agent runs: recording (routes, OTLP intake, n8n node), cost through the price table.
  // Escalations raise `run_escalated` through the alerts service and reach `run.*` webhook subscribers.
  const runs = createRuns({
    db,
    prices,
    alerts,
    // Escalations and decisions are news for open run pages too.
    publish: (event, data, at) => {
      live.publish('runs', typeof data.run === 'string' ? [data.run] : [])
      return notifier.emit(event, data, at)
    },
    changed: (ids) => live.publish('runs', ids),
    log: log.child({ module: 'runs' }),
    now: platform.now,
  })
  // OTLP traces in: tasks through the runs service, model calls as llm_* points through the same store.
  const otlpIntake = createOtlpIntake({ db, runs, metrics: metricStore })
  // OTLP metrics in: through the same store, so cost, series limits and rules hold as for every write.
  const otlpMetrics = createOtlpMetrics({ store: metricStore, maxPoints: platform.config.METRICS_MAX_BATCH })
  // Public status pages: their answers are kept in memory (a burst of visitors costs one build),
  // checked against the database every 10 s (rendered again only when what they say changed), and
  // dropped at once when a page's incidents, a public silence, or one of its components' state
  // changes in this process.
  const statusPages = createStatusPages({ db, alerts, now: platform.now, ttlMs: 10_000 })
  // A component going up or down drops what the status pages cached and refreshes open pages (the live feed).
  const componentStateChanged = (componentId: string) => {
    statusPages.cache.invalidateComponent(componentId)
    live.publish('components', [componentId])
  }
  const onPublicSilenceChange = () => statusPages.cache.invalidateAll()
  return {
    ...platform,
    live,
    statusPages,
    componentStateChanged,
    onPublicSilenceChange,
    runs,
    otlpIntake,
    otlpMetrics,
    workflowHistory,
    workflowValidator,
    workflowHealth,
    outbound,
    backups,
    registry,
    keys,
    notifier,
    prices,
    healing,
    prompts,
    alerts,
    metricStore,
    statusStore,
    reportBreakerOutcome,
  }
}

export type Services = ReturnType<typeof createServices>
