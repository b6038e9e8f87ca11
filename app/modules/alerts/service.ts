/**
 * The alerts service: the one owner of alert state. Every source reports through it (rules, the
 * generic API, the receivers, healing's failure alert), people act through it, and the silences
 * job re-checks through it. It is made once per database connection by the composition root
 * (app/services.ts); its state (the intake's cache, group commit and known fingerprints, the
 * per-fingerprint turns, the silences in force) lives in it, so a second
 * service on another connection behaves like a second server.
 */
import type { Db } from '../../../db/client.ts'
import type { Logger } from '../../lib/logger.ts'
import { type AlertFilter, getAlert, listAlerts } from './lifecycle/alerts.ts'
import {
  type AlertReport,
  createTurns,
  labelsFingerprint,
  type LifecycleDeps,
  type ReportsOptions,
  type RowsOf,
  reportAlert,
  type TransitionHook,
} from './lifecycle/lifecycle.ts'
import {
  acknowledgeAlert,
  type ByPerson,
  resolveAlert,
  resolveRuleAlerts,
  setSilenced,
  unacknowledgeAlert,
} from './lifecycle/lifecycle-actions.ts'
import { createIntake } from './intake/lifecycle-batch.ts'
import { createRuleRunner } from './rules/runner.ts'
import { createSilences } from './silences/silences.ts'

export type AlertsOptions = {
  db: Db
  log?: Logger
  /**
   * Hooks every state change runs after the silences' own (which sets the `silenced` flag first),
   * in this order, in the change's transaction. The composition root chooses them (the outbox).
   */
  hooks?: TransitionHook[]
  /** Hears the alerts whose change recorded events, once committed (the live feed). */
  changed?: (alertIds: readonly string[]) => void
  /** How long ingest triggers collect metric names before the rules watching them run. */
  debounceMs?: number
}

export function createAlerts(options: AlertsOptions) {
  const { db } = options
  const silences = createSilences(db)
  const lifecycle: LifecycleDeps = {
    db,
    hooks: [silences.hook, ...(options.hooks ?? [])],
    turns: createTurns(),
    forget: (fingerprint) => intake.forget(fingerprint),
    foldRepeats: (alertId) => intake.foldRepeats(alertId),
    changed: options.changed,
  }
  const intake = createIntake(lifecycle)
  const rules = createRuleRunner({
    db,
    log: options.log,
    reportMany: (reports, at) => intake.reportAlerts(reports, at),
    debounceMs: options.debounceMs,
  })

  return {
    /**
     * Reports one alert's state by fingerprint (creates, moves on, counts a repeat, resolves);
     * `rows` (the request's audit row, from the result) commit with the change.
     */
    report: (report: AlertReport, at = Date.now(), rows?: RowsOf) => reportAlert(lifecycle, report, at, rows),
    /** Reports many at once, atomically (one delivery of the group commit), results in order. */
    reportMany: (reports: AlertReport[], at = Date.now(), opts: ReportsOptions = {}) =>
      intake.reportAlerts(reports, at, opts),
    /** The fingerprint of a label set (`prefix` + a hash of its sorted labels). */
    labelsFingerprint,
    /** People's changes: with `by.audit`, the audit row commits in the change's own transaction. */
    acknowledge: (id: string, by: ByPerson, at = Date.now()) => acknowledgeAlert(lifecycle, id, by, at),
    unacknowledge: (id: string, by: ByPerson, at = Date.now()) => unacknowledgeAlert(lifecycle, id, by, at),
    resolve: (id: string, by: ByPerson, at = Date.now(), reason?: string) =>
      resolveAlert(lifecycle, id, by, at, reason),
    setSilenced: (id: string, silenced: boolean, by: ByPerson, at = Date.now(), detail?: Record<string, unknown>) =>
      setSilenced(lifecycle, id, silenced, by, at, detail),
    /**
     * Resolves a rule's open alerts (the rule was disabled or deleted); how many were open. The
     * caller audits the rule's change; each alert's history has its `resolved` event.
     */
    resolveRuleAlerts: (ruleId: string, by: Pick<ByPerson, 'actor'>, reason: string, at = Date.now()) =>
      resolveRuleAlerts(lifecycle, ruleId, by.actor, reason, at),
    list: (filter: AlertFilter) => listAlerts(db, filter),
    get: (id: string) => getAlert(db, id),
    /** Every enabled rule, at `now` (the alert-evaluation job). */
    evaluateAll: rules.evaluateAll,
    /** After ingest: the rules watching these metrics, debounced, in the background. */
    evaluateRulesFor: rules.evaluateRulesFor,
    /** Forget the cached list of watched metrics (a rule changed). */
    invalidateRules: rules.invalidate,
    /** The silences this service flags alerts by: stored, listed, expired, matched, as JSON. */
    silences: {
      create: silences.create,
      get: silences.get,
      expire: silences.expire,
      list: silences.list,
      openAlertsMatching: silences.openAlertsMatching,
      setPublic: silences.setPublic,
      publicMaintenance: silences.publicMaintenance,
      json: silences.json,
      windows: silences.windows,
    },
    /** Re-checks every open alert against the silences at `now` (the silences job; after a silence changes). */
    refreshSilenced: (now: number) => silences.refresh(lifecycle, now),
    /** The service's insides, for the intake's and lifecycle's own tests only; routes and jobs use the methods. */
    internal: { lifecycle, intake },
  }
}

/** What routes, pages, jobs and other modules use. */
export type AlertsService = Omit<ReturnType<typeof createAlerts>, 'internal'>
