import * as v from 'valibot'
import { ActionError, type ActionCtx } from '../types.ts'
import { defineAction } from './define.ts'

/** `<model-id>/<alias>`, as the registry names them (lower-case letters, digits, . _ -). */
const TARGET = /^([a-z0-9][a-z0-9._-]{0,62})\/([a-z0-9][a-z0-9._-]{0,62})$/
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

const Params = v.strictObject({
  /** A version of the model, or "previous" (the default): the version before the one the alias names now. */
  to: v.optional(
    v.union([v.literal('previous'), v.pipe(v.string(), v.regex(SEMVER))], 'must be a semantic version or "previous"'),
  ),
})
type P = v.InferOutput<typeof Params>

async function move(ctx: ActionCtx<P>, to: string, reason: string) {
  const port = ctx.deps.moveModelAlias
  if (!port) throw new ActionError('the model registry is not available to healing', false)
  const [, modelId, alias] = TARGET.exec(ctx.target)!
  try {
    return await port.move({ modelId: modelId!, alias: alias! }, to, `healing:${ctx.action.id}`, reason)
  } catch (error) {
    const status = (error as { status?: number }).status
    // No such model, alias or version, or nothing before: retrying cannot fix it.
    throw new ActionError(String((error as Error)?.message ?? error), !(status && status < 500))
  }
}

/**
 * Moves a model alias in the registry (target `<model-id>/<alias>`, e.g. `custom-qwen/production`),
 * by default back to the version before the one it names: model routes naming
 * `alias:<model-id>/<alias>` follow at once. The registry audits the move and sends
 * `registry.alias_moved` to subscriptions. Rollback (after a failed verification): the alias goes
 * back to the version it named before.
 */
export const modelAlias = defineAction<P>({
  type: 'model_alias',
  describe: 'Move a model alias (default: back to the previous version); model routes following it switch at once',
  targetIs: 'a model alias as <model-id>/<alias>, such as custom-qwen/production',
  paramsSchema: Params,
  async check(_deps, target) {
    return TARGET.test(target)
      ? undefined
      : { field: 'target', message: 'must be <model-id>/<alias>, such as custom-qwen/production' }
  },
  canHandle: () => true,
  async execute(ctx) {
    const r = await move(
      ctx,
      ctx.params.to ?? 'previous',
      `healing action ${ctx.action.id}: ${ctx.action.trigger.summary}`,
    )
    return { ...r }
  },
  async rollback(ctx) {
    const from = ctx.result?.from
    if (typeof from !== 'string') return { unchanged: true }
    return { ...(await move(ctx, from, `healing action ${ctx.action.id} rolled back`)) }
  },
})
