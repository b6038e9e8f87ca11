/**
 * Capped automatic retry of failed executions, asked for by the healing `n8n_retry` action (the
 * composition root hands this to healing as its `n8nRetry`). One call is one retry at most:
 *
 * - the execution is mapped to its chain's first execution (a retry made here that failed again
 *   belongs to the chain that made it), whose class must be one the rule retries, never
 *   credentials, expression or code;
 * - at most `maxPerExecution` retries per execution and `maxPerWorkflowPerHour` per workflow;
 * - n8n answers the retry once its new execution has finished, so the outcome is classified from
 *   that answer at once (the same rules as the poll) and written to the workflow's retry history.
 *
 * The action backs off between calls (5 s, 15 s, 30 s) while the answer says `again`.
 */
import type { N8nInstance } from '../../../../db/schema/healing.ts'
import type { Db } from '../../../../db/client.ts'
import type { FailureClass } from '../../../../db/schema/n8n.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import type { Logger } from '../../../lib/logger.ts'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import {
  findN8nInstance,
  type N8nRetryPort,
  type N8nRetryRequest,
  type N8nRetryResult,
  openN8nApiKey,
  TRANSIENT_CLASSES,
} from '../../healing/index.ts'
import { N8nApiError, n8nClient } from '../api/client.ts'
import { classify } from '../health/classify.ts'
import { compiledRules } from '../health/store.ts'
import { chainRoot, recordRetry, retriesOf, retriesSince, storedExecution } from './store.ts'

export type N8nRetrierDeps = { db: Db; sealer: Sealer; outbound: OutboundPolicy; log?: Logger }

const HOUR = 3_600_000
const MESSAGE_MAX = 500
const transient = new Set<string>(TRANSIENT_CLASSES)
const where = (cls: string | null, node: string | null) => `${cls ?? 'unknown'}${node ? ` in ${node}` : ''}`

export function createN8nRetrier(deps: N8nRetrierDeps): N8nRetryPort {
  const { db } = deps
  const clientFor = (instance: N8nInstance) =>
    // No retries of its own: n8n runs the workflow again on each POST.
    n8nClient(
      { name: instance.name, baseUrl: instance.baseUrl, apiKey: openN8nApiKey(deps.sealer, instance) },
      { outbound: deps.outbound, maxRps: 5, backoffMs: 1000, retries: 0 },
    )

  /** The failed execution's class and node: as the poll stored them, or read and classified now. */
  async function failureOf(instance: N8nInstance, id: string) {
    const row = await storedExecution(db, instance.id, id)
    if (row?.failureClass) return { workflowId: row.workflowId, cls: row.failureClass, node: row.failingNode }
    const data = await clientFor(instance).execution(id)
    if (!data) return null
    const c = classify({ ...data, status: String(data.status ?? 'error') }, await compiledRules(db))
    return { workflowId: String(data.workflowId ?? row?.workflowId ?? ''), cls: c.failureClass, node: c.node }
  }

  async function retry(req: N8nRetryRequest): Promise<N8nRetryResult> {
    const { now } = req
    const instance = await findN8nInstance(db, req.instance)
    if (!instance) return stop('refused', `no n8n instance named ${req.instance}`, {})
    const root = await chainRoot(db, instance.id, req.executionId)
    let first: Awaited<ReturnType<typeof failureOf>>
    try {
      first = await failureOf(instance, root)
    } catch (error) {
      return again(`could not read execution ${root}: ${(error as Error).message}`, { executionId: root })
    }
    if (!first) return stop('refused', `n8n ${instance.name} has no execution ${root}`, { executionId: root })
    const base = { instanceId: instance.id, workflowId: first.workflowId, executionId: root, actionId: req.actionId }
    const detail = { executionId: root, workflowId: first.workflowId, class: first.cls, node: first.node }
    const refuse = async (message: string) => {
      await recordRetry(db, {
        ...base,
        attempt: 0,
        at: now,
        retryExecutionId: null,
        outcome: 'refused',
        failureClass: first.cls,
        failingNode: first.node,
        message,
      })
      return stop('refused', message, detail)
    }
    if (!transient.has(first.cls) || !req.classes.includes(first.cls))
      return refuse(`execution ${root} failed as ${first.cls}, which this rule never retries`)
    const done = await retriesOf(db, instance.id, root)
    if (done[0]?.outcome === 'succeeded')
      return {
        outcome: 'succeeded',
        again: false,
        message: `execution ${root} was already retried successfully`,
        detail,
      }
    if (done.length >= req.maxPerExecution)
      return refuse(`execution ${root} was retried ${done.length} times already (at most ${req.maxPerExecution})`)
    const hour = await retriesSince(db, instance.id, first.workflowId, now - HOUR)
    if (hour >= req.maxPerWorkflowPerHour)
      return refuse(
        `workflow ${first.workflowId} was retried ${hour} times in the last hour (at most ${req.maxPerWorkflowPerHour})`,
      )

    const attempt = done.length + 1
    let answer: Record<string, unknown>
    try {
      answer = await clientFor(instance).retry(root)
    } catch (error) {
      // n8n refused (4xx: gone, not failed, queued) or could not be reached: nothing ran, nothing is counted.
      const message = (error as Error).message.slice(0, MESSAGE_MAX)
      const status = error instanceof N8nApiError ? error.status : null
      const worthAgain = status === null || status === 429 || status >= 500
      deps.log?.warn('n8n retry not made', { instance: instance.name, execution: root, error: message })
      if (worthAgain && attempt < req.maxPerExecution) return again(message, detail)
      return refuse(message)
    }
    const made = answer.id === undefined || answer.id === null ? null : String(answer.id)
    const status = typeof answer.status === 'string' ? answer.status : answer.finished === true ? 'success' : 'error'
    const out = { ...detail, attempt, retryExecutionId: made, status }
    if (status === 'success') {
      await recordRetry(db, {
        ...base,
        attempt,
        at: now,
        retryExecutionId: made,
        outcome: 'succeeded',
        failureClass: null,
        failingNode: null,
        message: null,
      })
      return {
        outcome: 'succeeded',
        again: false,
        message: `retry ${attempt} of ${root} succeeded (${made})`,
        detail: out,
      }
    }
    const c = classify({ ...answer, status }, await compiledRules(db))
    const sameWay = c.failureClass === first.cls && c.node === first.node
    const worth = transient.has(c.failureClass) && req.classes.includes(c.failureClass)
    const last = attempt >= req.maxPerExecution
    const outcome = worth && !last ? 'failed' : 'gave_up'
    const message =
      outcome === 'failed'
        ? `retry ${attempt} of ${root} failed (${where(c.failureClass, c.node)})`
        : !worth
          ? `retry ${attempt} of ${root} failed as ${c.failureClass}, which is never retried: giving up`
          : `retry ${attempt} of ${root} failed ${sameWay ? 'the same way' : 'again'} (${where(c.failureClass, c.node)}); ${attempt} of ${req.maxPerExecution} retries used: giving up`
    await recordRetry(db, {
      ...base,
      attempt,
      at: now,
      retryExecutionId: made,
      outcome,
      failureClass: c.failureClass,
      failingNode: c.node,
      message: c.message ?? message,
    })
    const d = { ...out, retryClass: c.failureClass as FailureClass, retryNode: c.node, sameWay, error: c.message }
    return outcome === 'failed' ? again(message, d) : stop('gave_up', message, d)
  }

  return { retry }
}

const again = (message: string, detail: Record<string, unknown>): N8nRetryResult => ({
  outcome: 'failed',
  again: true,
  message,
  detail,
})
const stop = (outcome: 'gave_up' | 'refused', message: string, detail: Record<string, unknown>): N8nRetryResult => ({
  outcome,
  again: false,
  message,
  detail,
})
