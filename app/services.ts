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
import { createPrices } from './modules/components/index.ts'
import { createHealing } from './modules/healing/index.ts'
import { createMetricStore } from './modules/metrics/index.ts'
import { createNotifier } from './modules/notify/index.ts'

export function createServices(platform: Deps) {
  const { db, log } = platform
  const keys = createKeyStore(db)
  // The one outbound policy (OUTBOUND_ALLOW): every call to a URL a user configured (channels,
  // subscriptions, component checks, healing webhooks, n8n, probes, verifications) goes through it.
  const outbound = createOutboundPolicy(platform.config)
  // The notification outbox: its routing cache, its hook on alert changes, its sender and the
  // `notifications` job's tick; healing notices go out through it too.
  const notifier = createNotifier({
    db,
    sealer: platform.sealer,
    config: platform.config,
    outbound,
    log: log.child({ module: 'notify' }),
  })
  // Every alert state change runs its silences' hook first (it sets the `silenced` flag), then these,
  // in its own transaction: the notification outbox reads the flag last.
  const alerts = createAlerts({ db, log, hooks: [notifier.outboxHook] })
  // The LLM price table in memory: the ingest derives cost from it, the price routes invalidate it.
  const prices = createPrices(db)
  // One metric store for every writer: token counts become llm_cost_usd points by the price table
  // in the same batch, and after a committed write the rules watching the written metrics run.
  const metricStore = watchIngest(createMetricStore(db, { derive: prices.deriveCost }), alerts.evaluateRulesFor)
  // The components' own series (check latency, heartbeats): no price derivation, and rules over
  // them run at their tick rather than after each write.
  const statusStore = createMetricStore(db)
  // Healing, made once: breakers, model routes, the orchestrator and what each keeps in this process.
  // `kick` runs the healing job now (a breaker opened, an action was approved) on this scheduler.
  const healingLog = log.child({ module: 'healing' })
  const healing = createHealing({
    db,
    sealer: platform.sealer,
    config: platform.config,
    log: healingLog,
    outbound,
    alerts,
    delivery: notifier,
    kick: healingKick(platform.scheduler, healingLog),
  })
  // A component check's result is also an outcome for the component's circuit breaker.
  const reportBreakerOutcome = (key: string, outcome: { ok: boolean; error?: string }, at: number) =>
    healing.breakers.report(key, outcome, at)
  return {
    ...platform,
    outbound,
    keys,
    notifier,
    prices,
    healing,
    alerts,
    metricStore,
    statusStore,
    reportBreakerOutcome,
  }
}

export type Services = ReturnType<typeof createServices>
