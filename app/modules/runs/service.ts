/**
 * The runs service, built once by the composition root (app/services.ts): recording runs and tasks
 * (write.ts), the users' classification rules kept compiled between writes, and what the routes,
 * the OTLP intake and the n8n node call. Its state (the compiled rules) lives in the object returned.
 */
import { asc } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { runClassRules } from '../../../db/schema/runs.ts'
import type { Logger } from '../../lib/logger.ts'
import { clockOf } from '../../lib/time.ts'
import type { Prices } from '../components/index.ts'
import { classify, compileRules, type FailureFacts } from './classify.ts'
import { type BatchResult, recordBatch, type RunWrite, type TaskWrite } from './write.ts'

export type RunsDeps = {
  db: Db
  prices: Pick<Prices, 'priceAt'>
  log?: Logger
  now?: () => number
}

export function createRuns(deps: RunsDeps) {
  const { db } = deps
  const now = clockOf(deps)
  let rules: ReturnType<typeof compileRules> | null = null

  async function loadedRules() {
    rules ??= compileRules(await db.select().from(runClassRules).orderBy(asc(runClassRules.position)))
    return rules
  }

  /** The class of a failure: the users' rules first, then the built-in classifier. */
  const classifyFailure = async (f: FailureFacts) => classify(await loadedRules(), f)

  const writeDeps = { db, prices: deps.prices, classify: classifyFailure }

  /**
   * Records runs and tasks in one atomic batch (the batch routes, the OTLP intake). Idempotent by id,
   * safe in any order: see write.ts. Inputs must have passed the input schemas (input.ts).
   */
  const record = (input: { runs?: RunWrite[]; tasks?: TaskWrite[] }, at = now()): Promise<BatchResult> =>
    recordBatch(writeDeps, input, at)

  return {
    now,
    record,
    upsertRun: (run: RunWrite, at = now()) => record({ runs: [run] }, at),
    upsertTask: (task: TaskWrite, at = now()) => record({ tasks: [task] }, at),
    classify: classifyFailure,
    /** Called after the users' rules change, so the next failure reads them again. */
    invalidateRules: () => void (rules = null),
  }
}
export type Runs = ReturnType<typeof createRuns>
