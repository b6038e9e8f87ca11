import * as v from 'valibot'
import { AppError } from '../../../lib/errors.ts'
import { writeAudit } from '../../audit/index.ts'
import { ActionError, type ActionCtx, type PromptRollbackPort } from '../types.ts'
import { defineAction } from './define.ts'

// A rule's `{{version}}` fills a string: "3" is version 3, and "v3" too (as agents often label it).
const VersionRef = v.union(
  [
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(999_999_999)),
    v.pipe(v.string(), v.regex(/^v?[1-9]\d{0,8}$/)),
  ],
  'must be a version number',
)

const Params = v.strictObject({
  /** The label to move back (default production). */
  label: v.optional(
    v.pipe(v.string('must be a string'), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/, 'must be a label name')),
  ),
  /** "previous" (the highest version below the label's), or a version number. */
  to: v.optional(v.union([VersionRef, v.literal('previous')], 'must be a version number or "previous"')),
  /**
   * Roll back only while the label still points at this version (the alert's `{{version}}`): a
   * score alert about a version no longer live moves nothing, and a second alert does not roll back twice.
   */
  ifVersion: v.optional(v.union([VersionRef, v.literal('')], 'must be a version number')),
  /** The restored version counts as recovered when its mean score since the move reaches this… */
  minScore: v.optional(v.pipe(v.number('must be a number'), v.finite('must be finite')), 0.7),
  /** …over at least this many score points. */
  minSamples: v.optional(
    v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(1), v.maxValue(100_000)),
    3,
  ),
})
type P = v.InferOutput<typeof Params>

const num = (x: number | string) => (typeof x === 'number' ? x : Number(x.replace(/^v/, '')))

function portOf(ctx: ActionCtx<P>): PromptRollbackPort {
  if (!ctx.deps.prompts) throw new ActionError('the prompt registry is not available to healing', false)
  return ctx.deps.prompts
}

/** The registry's refusals (no such prompt, label or version) will not change on a retry. */
function actionError(error: unknown): never {
  if (error instanceof AppError) throw new ActionError(error.message, error.status >= 500, { code: error.code })
  throw error
}

async function move(ctx: ActionCtx<P>, to: number | 'previous', reason: string) {
  const label = ctx.params.label
  const at = ctx.now()
  const moved = await portOf(ctx)
    .rollback(ctx.target, label!, to, { actor: `healing:${ctx.action.id}`, reason, now: at })
    .catch(actionError)
  if (moved)
    await writeAudit(
      ctx.deps.db,
      {
        actor: `healing:${ctx.action.id}`,
        action: 'prompt.rolled_back',
        target: `${ctx.target}:${label}`,
        summary: `${moved.from} → ${moved.to} by healing action ${ctx.action.id}: ${reason}`,
      },
      at,
    )
  return { moved, at }
}

/**
 * Moves a prompt's label back to the previous (or a given) version when its score drops. Target:
 * the prompt's name (`{{prompt}}` from a `prompt_score` alert). Its own verification: the
 * restored version's mean `prompt_score` since the move reaches `minScore` over `minSamples`
 * points; otherwise, at the rule's verification deadline, the label goes back (rollback).
 */
export const promptRollback = defineAction<P>({
  type: 'prompt_rollback',
  describe:
    "Move a prompt's label (default production) back to the previous or a given version; verified by the restored version's score, undone if it does not recover",
  targetIs: 'the name of a prompt of the registry (e.g. {{prompt}} from a prompt_score alert)',
  paramsSchema: Params,
  async check(deps, target, params) {
    if (!deps.prompts) return { field: 'actionType', message: 'the prompt registry is not available' }
    if ((await deps.prompts.labelVersion(target, params.label ?? 'production')) === undefined)
      return { field: 'target', message: `no prompt ${target} with the label ${params.label ?? 'production'}` }
    return undefined
  },
  canHandle: () => true,
  async execute(ctx) {
    const label = (ctx.params.label ??= 'production')
    const port = portOf(ctx)
    const current = await port.labelVersion(ctx.target, label)
    if (current === undefined) throw new ActionError(`no prompt ${ctx.target} with the label ${label}`, false)
    const only = ctx.params.ifVersion
    if (only !== undefined && only !== '' && num(only) !== current)
      return { skipped: `the label ${label} points at version ${current}, not ${num(only)}`, label, version: current }
    const to = ctx.params.to === undefined || ctx.params.to === 'previous' ? 'previous' : num(ctx.params.to)
    const { moved, at } = await move(ctx, to, ctx.action.trigger.summary || 'prompt score dropped')
    if (!moved) return { unchanged: true, label, version: current }
    return { label, from: moved.from, to: moved.to, movedAt: at }
  },
  async verify(ctx) {
    const r = ctx.result ?? {}
    if (typeof r.to !== 'number' || typeof r.movedAt !== 'number') return { ok: true, detail: { moved: false } }
    const s = await portOf(ctx).score(ctx.target, r.to, r.movedAt, ctx.now() + 1)
    const ok = s.count >= ctx.params.minSamples && s.avg !== null && s.avg >= ctx.params.minScore
    return {
      ok,
      detail: {
        version: r.to,
        score: s.avg,
        samples: s.count,
        minScore: ctx.params.minScore,
        minSamples: ctx.params.minSamples,
      },
    }
  },
  async rollback(ctx) {
    const r = ctx.result ?? {}
    if (typeof r.from !== 'number' || typeof r.to !== 'number') return { unchanged: true }
    ctx.params.label ??= 'production'
    const { moved } = await move(ctx, r.from, `score of version ${r.to} did not recover: undo`)
    return moved ? { label: ctx.params.label, from: moved.from, to: moved.to } : { unchanged: true }
  },
})
