/**
 * The composition root's services: every long-lived service is built here once, from the config
 * and the database, and handed to the routes, pages and jobs that use it. No module keeps state
 * of its own in module-level registries; what must be shared (the alert evaluator and its
 * lifecycle, the metric store, …) is made here and passed in.
 */
import { healingKick } from '../jobs/healing.ts'
import type { Deps } from './context.ts'
import { createEvaluator, silenceHook, watchIngest } from './modules/alerts/index.ts'
import { createKeyStore } from './modules/auth/index.ts'
import { createPrices } from './modules/components/index.ts'
import { createHealing } from './modules/healing/index.ts'
import { createMetricStore } from './modules/metrics/index.ts'
import { createNotifier } from './modules/notify/index.ts'

export function createServices(platform: Deps) {
  const { db, log } = platform
  const keys = createKeyStore(db)
  // The notification outbox: its routing cache, its hook on alert changes, its sender and the
  // `notifications` job's tick; healing notices go out through it too.
  const notifier = createNotifier({
    db,
    sealer: platform.sealer,
    config: platform.config,
    log: log.child({ module: 'notify' }),
  })
  // Every alert state change runs these hooks in its own transaction, in this order: silences set
  // the `silenced` flag first, the notification outbox reads it last.
  const evaluator = createEvaluator({ db, log, hooks: [silenceHook, notifier.outboxHook] })
  // The LLM price table in memory: the ingest derives cost from it, the price routes invalidate it.
  const prices = createPrices(db)
  // One metric store for every writer: token counts become llm_cost_usd points by the price table
  // in the same batch, and after a committed write the rules watching the written metrics run.
  // Both stores refuse new series past METRICS_MAX_SERIES_PER_METRIC, each keeping its own count
  // per metric (recounted before refusing, so the other store's series are seen).
  const seriesLimit = {
    maxSeriesPerMetric: platform.config.METRICS_MAX_SERIES_PER_METRIC,
    onSeriesRefused: (n: number) => platform.telemetry.seriesRefused.inc({}, n),
  }
  const metricStore = watchIngest(
    createMetricStore(db, { derive: prices.deriveCost, ...seriesLimit }),
    evaluator.evaluateRulesFor,
  )
  // The components' own series (check latency, heartbeats): no price derivation, and rules over
  // them run at their tick rather than after each write.
  const statusStore = createMetricStore(db, seriesLimit)
  // Healing, made once: breakers, model routes, the orchestrator and what each keeps in this process.
  // `kick` runs the healing job now (a breaker opened, an action was approved) on this scheduler.
  const healingLog = log.child({ module: 'healing' })
  const healing = createHealing({
    db,
    sealer: platform.sealer,
    config: platform.config,
    log: healingLog,
    lifecycle: evaluator.lifecycle,
    delivery: notifier,
    kick: healingKick(platform.scheduler, healingLog),
  })
  // A component check's result is also an outcome for the component's circuit breaker.
  const reportBreakerOutcome = (key: string, outcome: { ok: boolean; error?: string }, at: number) =>
    healing.breakers.report(key, outcome, at)
  return { ...platform, keys, notifier, prices, healing, evaluator, metricStore, statusStore, reportBreakerOutcome }
}

export type Services = ReturnType<typeof createServices>
