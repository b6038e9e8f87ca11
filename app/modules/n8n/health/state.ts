/**
 * A workflow's state, from what the last poll knows. The order is the order of precedence: an
 * instance that cannot be reached says nothing about its workflows (unknown); a switched-off
 * workflow is inactive whatever its history; a schedule that did not run is stopped, which matters
 * more than how its last runs went.
 */
import type { WorkflowState } from '../../../../db/schema/n8n.ts'

export type StateInput = {
  reachable: boolean
  active: boolean
  missed: boolean
  consecutiveFailures: number
  /** Final executions and failures (error, crashed) in the last 24 h. */
  runs24h: number
  failures24h: number
}

export type StateOptions = { failingAfter: number; degradedRate: number }

export function stateOf(i: StateInput, o: StateOptions): { state: WorkflowState; reason: string | null } {
  if (!i.reachable) return { state: 'unknown', reason: 'the n8n instance cannot be reached' }
  if (!i.active) return { state: 'inactive', reason: null }
  if (i.missed) return { state: 'stopped', reason: 'an expected run did not happen' }
  if (i.consecutiveFailures >= o.failingAfter)
    return { state: 'failing', reason: `the last ${i.consecutiveFailures} executions failed` }
  if (i.runs24h > 0 && i.failures24h / i.runs24h > o.degradedRate)
    return {
      state: 'degraded',
      reason: `${i.failures24h} of ${i.runs24h} executions failed in 24 h (above ${Math.round(o.degradedRate * 100)} %)`,
    }
  return { state: 'healthy', reason: null }
}

/** n8n's final statuses that count as a failure, and those still going on. */
export const FAILED = new Set(['error', 'crashed'])
export const UNFINISHED = new Set(['new', 'running', 'waiting', 'unknown'])
