import * as v from 'valibot'
import { ActionError } from '../types.ts'
import { defineAction } from './define.ts'
import { checkN8nInstanceTarget } from './n8n-instances.ts'

/** The classes a retry can fix: the far end was busy, slow or briefly gone. */
export const TRANSIENT_CLASSES = ['rate_limit', 'network', 'upstream_5xx', 'timeout'] as const
/** Waits before retry 1, 2, 3 (and every later one): n8n's upstream gets time to recover. */
export const RETRY_BACKOFF_MS = [5_000, 15_000, 30_000] as const

const Id = v.pipe(
  v.string('must be a string'),
  v.regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be an id (letters, digits, _ and -)'),
)
const count = (max: number) =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(1, 'must be at least 1'),
    v.maxValue(max, `must be at most ${max}`),
  )
const Params = v.strictObject({
  executionId: Id,
  /** Which transient classes to retry (default: all four); credentials, expression and code never are. */
  classes: v.optional(
    v.pipe(
      v.array(v.picklist(TRANSIENT_CLASSES, `must be one of ${TRANSIENT_CLASSES.join(', ')}`), 'must be a list'),
      v.minLength(1, 'must name at least one class'),
    ),
  ),
  maxPerExecution: v.optional(count(10)),
  maxPerWorkflowPerHour: v.optional(count(1000)),
})
type P = v.InferOutput<typeof Params>

/**
 * A capped retry of a failed n8n execution: each attempt asks the n8n module to retry it once
 * (POST /api/v1/executions/:id/retry; n8n answers when the new execution has finished). A retry
 * failing in a transient class again is tried again after the next back-off (5 s, 15 s, 30 s) until
 * `maxPerExecution` retries; the caps, a class never retried, or the retries used up fail the action,
 * which escalates it (the HealingActionFailed alert, the rule's failure notices).
 */
export const n8nRetry = defineAction<P>({
  type: 'n8n_retry',
  describe: 'n8n: retry a failed execution of a transient class, capped, with back-off 5 s, 15 s, 30 s',
  targetIs: 'the name of an n8n instance (POST /api/v1/healing/n8n-instances)',
  paramsSchema: Params,
  check: checkN8nInstanceTarget,
  canHandle: () => true,
  backoffMs: (attempt) => RETRY_BACKOFF_MS[Math.min(attempt, RETRY_BACKOFF_MS.length - 1)]!,
  async execute({ deps, action, params, target, now }) {
    if (!deps.n8nRetry) throw new ActionError('n8n workflow health is not running in this server', false)
    const r = await deps.n8nRetry.retry({
      instance: target,
      executionId: params.executionId,
      classes: params.classes ?? TRANSIENT_CLASSES,
      maxPerExecution: params.maxPerExecution ?? 3,
      maxPerWorkflowPerHour: params.maxPerWorkflowPerHour ?? 10,
      actionId: action.id,
      now: now(),
    })
    if (r.outcome === 'succeeded') return { outcome: r.outcome, message: r.message, ...r.detail }
    throw new ActionError(r.message, r.again, { outcome: r.outcome, ...r.detail })
  },
})
