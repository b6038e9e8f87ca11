/**
 * The composition root's services: every long-lived service is built here once, from the config
 * and the database, and handed to the routes, pages and jobs that use it. No module keeps state
 * of its own in module-level registries; what must be shared (the alerts service, the metric
 * store, …) is made here and passed in.
 */
import type { Deps } from './context.ts'
import { createAlerts, watchIngest } from './modules/alerts/index.ts'
import { createKeyStore } from './modules/auth/index.ts'
import { costDeriver } from './modules/components/index.ts'
import { type HealingDeps, reportOutcome } from './modules/healing/index.ts'
import { createMetricStore } from './modules/metrics/index.ts'
import { outboxHook } from './modules/notify/index.ts'

/**
 * The alerts service over one connection. Every alert state change runs its silences' hook first
 * (it sets the `silenced` flag), then these, in its own transaction: the notification outbox reads
 * the flag last. Tests make a second instance's service with it (tests/helpers/app.ts).
 */
export const alertsService = (db: Deps['db'], log?: Deps['log']) => createAlerts({ db, log, hooks: [outboxHook] })

export function createServices(platform: Deps) {
  const { db, log } = platform
  const keys = createKeyStore(db)
  const alerts = alertsService(db, log)
  // One metric store for every writer: token counts become llm_cost_usd points by the price table
  // in the same batch, and after a committed write the rules watching the written metrics run.
  const metricStore = watchIngest(createMetricStore(db, { derive: costDeriver(db) }), alerts.evaluateRulesFor)
  // The components' own series (check latency, heartbeats): no price derivation, and rules over
  // them run at their tick rather than after each write.
  const statusStore = createMetricStore(db)
  // A component check's result is also an outcome for the component's circuit breaker.
  const reportBreakerOutcome = (key: string, outcome: { ok: boolean; error?: string }, at: number) =>
    reportOutcome(db, key, outcome, at)
  const healing: HealingDeps = {
    db,
    sealer: platform.sealer,
    config: platform.config,
    log: log.child({ module: 'healing' }),
    alerts,
  }
  return { ...platform, keys, healing, alerts, metricStore, statusStore, reportBreakerOutcome }
}

export type Services = ReturnType<typeof createServices>
