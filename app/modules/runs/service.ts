/**
 * The runs service, built once by the composition root (app/services.ts): recording runs and tasks
 * (write.ts), failures and their decisions (decisions.ts), the users' classification rules and the
 * stored policies kept between requests (the failure route must answer fast), and what the routes,
 * the OTLP intake, the n8n node and the runs job call. Its state lives in the object returned.
 */
import type { Db } from '../../../db/client.ts'
import type { WebhookEventName } from '../../../db/schema/notify.ts'
import type { Run, RunPolicy } from '../../../db/schema/runs.ts'
import type { Logger } from '../../lib/logger.ts'
import { clockOf } from '../../lib/time.ts'
import type { AlertsService } from '../alerts/index.ts'
import type { Prices } from '../components/index.ts'
import { classify, compileRules, type FailureFacts } from './classify.ts'
import { createDecisions } from './decisions.ts'
import { listClassRules, loadPolicies } from './policies.ts'
import { policyFor } from './policy.ts'
import { type BatchResult, prepareBatch, recordBatch, type RunWrite, type Stmt, type TaskWrite } from './write.ts'

export type RunsDeps = {
  db: Db
  prices: Pick<Prices, 'priceAt'>
  alerts: Pick<AlertsService, 'report' | 'labelsFingerprint'>
  /** Webhook subscriptions' events (the notifier's publish). */
  publish: (event: WebhookEventName, data: Record<string, unknown>, at: number) => Promise<void>
  log?: Logger
  now?: () => number
  /** Told the ids of the runs a committed write touched (the live feed: open run pages refresh). */
  changed?: (runIds: string[]) => void
}

/** Stored policies and rules changed by another instance sharing the database are seen within this time. */
const CACHE_TTL_MS = 60_000

export function createRuns(deps: RunsDeps) {
  const { db } = deps
  const now = clockOf(deps)
  let rules: { at: number; value: ReturnType<typeof compileRules> } | null = null
  let policies: { at: number; value: Map<string, RunPolicy> } | null = null

  async function loadedRules() {
    const t = Date.now()
    if (!rules || t - rules.at > CACHE_TTL_MS) rules = { at: t, value: compileRules(await listClassRules(db)) }
    return rules.value
  }
  async function loadedPolicies() {
    const t = Date.now()
    if (!policies || t - policies.at > CACHE_TTL_MS) policies = { at: t, value: await loadPolicies(db) }
    return policies.value
  }

  /** The class of a failure: the users' rules first, then the built-in classifier. */
  const classifyFailure = async (f: FailureFacts) => classify(await loadedRules(), f)
  /** The policy in force for a run: defaults, stored default, its labels', its own. */
  const policyOf = async (run: Pick<Run, 'labels' | 'policy'> | undefined) => policyFor(await loadedPolicies(), run)

  const writeDeps = { db, prices: deps.prices, classify: classifyFailure }

  /**
   * Records runs and tasks in one atomic batch (the batch routes, the OTLP intake). Idempotent by id,
   * safe in any order: see write.ts. Inputs must have passed the input schemas (input.ts). `before`:
   * statements of the caller's to commit first in the same transaction (the intake's spans).
   */
  const record = (
    input: { runs?: RunWrite[]; tasks?: TaskWrite[] },
    at = now(),
    before: Stmt[] = [],
  ): Promise<BatchResult> =>
    recordBatch(writeDeps, input, at, before).then((result) => {
      if (result.runs.length) deps.changed?.(result.runs)
      return result
    })

  const decisions = createDecisions({
    db,
    alerts: deps.alerts,
    publish: deps.publish,
    classify: classifyFailure,
    policyOf,
    prepare: (input, at, known) => prepareBatch(writeDeps, input, at, known),
  })

  return {
    db,
    now,
    record,
    upsertRun: (run: RunWrite, at = now()) => record({ runs: [run] }, at),
    upsertTask: (task: TaskWrite, at = now()) => record({ tasks: [task] }, at),
    classify: classifyFailure,
    policyOf,
    /** The stored policies by scope (cached as policyOf reads them): the watch job's loosest bounds. */
    storedPolicies: loadedPolicies,
    reportFailure: decisions.reportFailure,
    choose: decisions.choose,
    decisionOf: decisions.decisionOf,
    alerts: deps.alerts,
    /** The users' rules changed: the next failure reads them again. */
    invalidateRules: () => void (rules = null),
    /** A stored policy changed. */
    invalidatePolicies: () => void (policies = null),
    /**
     * The runs_watch job's memory in this process: the stored policies (as JSON) it last found
     * applied (in settings, see watch.ts); null until its first tick.
     */
    watch: { appliedPolicies: null as string | null },
  }
}
export type Runs = ReturnType<typeof createRuns>
