import * as v from 'valibot'
import { getRouteByName } from '../model-routes/model-routes.ts'
import { ActionError } from '../types.ts'
import { defineAction } from './define.ts'

/**
 * Moves a model route to its next target whose breaker is not OPEN. Target: the route's name; a
 * rule triggered by a breaker may use `*` for every route whose active target is that breaker's.
 * Rollback: back to the index it moved from.
 */
export const modelFailover = defineAction<{ reason?: string }>({
  type: 'model_failover',
  describe: 'Fail a model route over to its next healthy target (rollback: back to the previous one)',
  targetIs: 'a model route name (or * with a breaker trigger: every route whose active target is the breaker)',
  paramsSchema: v.strictObject({
    reason: v.optional(v.pipe(v.string('must be a string'), v.maxLength(500, 'must be at most 500 characters'))),
  }),
  async check(deps, target) {
    if (target === '*')
      return {
        field: 'target',
        message: 'is * (every route on the breaker), which only a rule with a breaker trigger can use',
      }
    return (await getRouteByName(deps.db, target))
      ? undefined
      : { field: 'target', message: `no model route named ${target}` }
  },
  canHandle: () => true,
  async execute({ deps, action, params, target, now }) {
    // A breaker that opened moves the route only while the route is on that breaker's target.
    const onKey = action.trigger.type === 'breaker' ? action.trigger.labels?.key : undefined
    const moved = await deps.modelRoutes.failover(target, {
      reason: params.reason ?? `healing action ${action.id} (${action.trigger.summary})`.slice(0, 500),
      actor: `healing:${action.id}`,
      now: now(),
      ...(onKey ? { ifActiveKey: onKey } : {}),
    })
    if (!moved) throw new ActionError(`route ${target} has no healthy target to fail over to`, true)
    if (moved.from === moved.to)
      return { from: moved.from, to: moved.to, unchanged: `the active target is not behind ${onKey}` }
    return { from: moved.from, to: moved.to }
  },
  async rollback({ deps, action, target, now, result }) {
    if (result?.unchanged) return { unchanged: true }
    const from = typeof result?.from === 'number' ? result.from : 0
    const back = await deps.modelRoutes.failback(target, {
      reason: `rollback of healing action ${action.id}`,
      actor: `healing:${action.id}`,
      now: now(),
      toIndex: from,
    })
    return back ? { from: back.from, to: back.to } : { unchanged: true }
  },
})
