import * as v from 'valibot'
import { AppError } from '../../../lib/errors.ts'
import { writeAudit } from '../../audit/index.ts'
import { ActionError, type ActionCtx, type WorkflowRollbackResult } from '../types.ts'
import { DurationBetween } from '../../metrics/index.ts'
import { defineAction } from './define.ts'
import { checkN8nInstanceTarget, findN8nInstance } from './n8n-instances.ts'

const DAY = 86_400_000
const VERSION = /^[1-9]\d{0,8}$/

const Params = v.strictObject({
  workflowId: v.pipe(
    v.string('must be a string'),
    v.regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be an n8n workflow id (letters, digits, _ and -)'),
  ),
  /** "previous" (the version before the current one), or a version number of the workflow's history. */
  to: v.optional(
    v.union(
      [
        v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(999_999_999)),
        v.literal('previous'),
        // A rule's `{{label}}` fills a string: "3" is taken as version 3.
        v.pipe(v.string(), v.regex(VERSION)),
      ],
      'must be a version number or "previous"',
    ),
  ),
  /** Roll back only when the current version was saved within this long (30m, 2h, 1d, or ms). */
  onlyIfChangedWithin: v.optional(DurationBetween(1000, 30 * DAY, '30m, 2h, 1d')),
})
type P = v.InferOutput<typeof Params>

const toOf = (p: P): number | 'previous' =>
  p.to === undefined || p.to === 'previous' ? 'previous' : typeof p.to === 'number' ? p.to : Number(p.to)

const ago = (ms: number) =>
  ms >= DAY
    ? `${Math.round(ms / DAY)} d`
    : ms >= 3_600_000
      ? `${Math.round(ms / 3_600_000)} h`
      : `${Math.round(ms / 60_000)} min`

/**
 * What the backups module's refusals mean here: n8n unreachable or failing (502) may pass; no
 * such workflow, no version before, the workflow deleted in n8n (404, 409) will not.
 */
function actionError(error: unknown, instance: string): never {
  if (error instanceof AppError)
    throw new ActionError(`n8n ${instance}: ${error.message}`, error.status >= 500, { code: error.code })
  throw error
}

/** The instance the target names, or a failure that retrying cannot fix. */
async function instanceOf(ctx: ActionCtx<P>) {
  const instance = await findN8nInstance(ctx.deps.db, ctx.target)
  if (!instance) throw new ActionError(`no n8n instance named ${ctx.target}`, false)
  return instance
}

async function rollBack(ctx: ActionCtx<P>, to: number | 'previous', guarded: boolean) {
  const { deps, action, params, now } = ctx
  const instance = await instanceOf(ctx)
  const within = guarded ? params.onlyIfChangedWithin : undefined
  const at = now()
  const result: WorkflowRollbackResult = await deps
    .rollbackWorkflow(
      instance.id,
      params.workflowId,
      {
        to,
        // Decided on what n8n holds now (the backups module reads it before writing anything).
        guard: guarded
          ? (head) => {
              if (within !== undefined && at - head.changedAt > within)
                return `version ${head.version} was saved ${ago(at - head.changedAt)} ago, not within ${ago(within)} (onlyIfChangedWithin)`
              // "previous" of a rollback is the version it replaced: a rule firing again must not put that back.
              if (to === 'previous' && head.kind !== 'pull')
                return `version ${head.version} is already a ${head.kind} (to version ${head.restoredVersion}); not rolling back again`
              return null
            }
          : undefined,
      },
      `healing:${action.id}`,
      at,
    )
    .catch((error: unknown) => actionError(error, instance.name))
  if (result.skipped === undefined)
    await writeAudit(
      deps.db,
      {
        actor: `healing:${action.id}`,
        action: 'workflow.rolled_back',
        target: `${instance.name}/${params.workflowId}`,
        summary: `to version ${result.restored} (now version ${result.version}) by healing action ${action.id}: ${action.trigger.summary}`,
      },
      now(),
    )
  return result
}

/**
 * Puts an earlier version of an n8n workflow back (the backups module's workflow history does the
 * work: it stores what n8n holds first, keeps the id and the active state). Target: the n8n
 * instance's name. The use it is made for: a rule on a workflow's failure rate rolls it back when
 * the rate jumps right after a new version (`onlyIfChangedWithin`). Rollback (after a failed
 * verification): the version it replaced goes back.
 */
export const workflowRollback = defineAction<P>({
  type: 'workflow_rollback',
  describe: 'Roll an n8n workflow back to an earlier version from its history (rollback: the version it replaced)',
  targetIs: 'the name of an n8n instance (POST /api/v1/healing/n8n-instances) whose workflow history is kept',
  paramsSchema: Params,
  check: checkN8nInstanceTarget,
  canHandle: () => true,
  async execute(ctx) {
    const result = await rollBack(ctx, toOf(ctx.params), true)
    return { ...result }
  },
  async rollback(ctx) {
    const replaced = ctx.result?.replaced
    if (typeof replaced !== 'number') return { unchanged: true }
    return { ...(await rollBack(ctx, replaced, false)) }
  },
})
