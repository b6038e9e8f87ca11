/**
 * Rule templates: a ready rule made from a few answers, one click in the rules page or one call
 * (`POST /api/v1/healing/rule-templates/:id`). The rule made is an ordinary rule, edited like any.
 */
import * as v from 'valibot'
import { TRANSIENT_CLASSES } from '../actions/n8n-retry.ts'
import type { RuleInput } from '../input.ts'
import { findN8nInstance } from '../actions/n8n-instances.ts'
import { invalid } from '../orchestrator/enqueue.ts'
import type { ErrorDetail } from '../../../lib/errors.ts'
import type { HealingCtx } from '../types.ts'
import { createRule } from './rules.ts'

export const count = (max: number) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/, 'must be a whole number'), v.transform(Number))]),
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(1, 'must be at least 1'),
    v.maxValue(max, `must be at most ${max}`),
  )

export const PresetBody = v.strictObject({
  /** What the rule acts on: the n8n instance's name (retry), or one prompt's name (prompt rollback; default every prompt). */
  target: v.optional(
    v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'too long')),
  ),
  name: v.optional(v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200))),
  maxPerExecution: v.optional(count(10)),
  maxPerWorkflowPerHour: v.optional(count(1000)),
  classes: v.optional(
    v.pipe(
      v.array(v.picklist(TRANSIENT_CLASSES, `must be one of ${TRANSIENT_CLASSES.join(', ')}`), 'must be a list'),
      v.minLength(1, 'must name at least one class'),
    ),
  ),
  enabled: v.optional(v.boolean('must be true or false')),
  /** Prompt rollback: the label moved back (default production). */
  label: v.optional(
    v.pipe(v.string('must be a string'), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/, 'must be a label name')),
  ),
  /** Prompt rollback: the restored version's mean score that counts as recovered (default 0.7). */
  minScore: v.optional(v.pipe(v.number('must be a number'), v.finite('must be finite'))),
  /** Prompt rollback: how long the restored version has to recover before the label goes back (default 10 min). */
  verifyWithinMs: v.optional(
    v.pipe(v.number('must be a number'), v.integer('must be whole ms'), v.minValue(1000), v.maxValue(86_400_000)),
  ),
})
export type PresetInput = v.InferOutput<typeof PresetBody>

export type RulePreset = {
  id: string
  name: string
  describe: string
  /** What `target` names. */
  targetIs: string
  build(input: PresetInput): RuleInput
  /** What makes the answers unusable, naming the field (checked before the rule is made). */
  check(deps: HealingCtx, input: PresetInput): Promise<ErrorDetail | undefined>
}

const retryTransient: RulePreset = {
  id: 'n8n-retry-transient',
  name: 'retry transient n8n failures',
  describe:
    'Retries n8n executions that failed as rate_limit, network, upstream_5xx or timeout (never credentials, ' +
    'expression or code), after 5 s, 15 s, 30 s; at most 3 retries per execution and 10 per workflow an hour; ' +
    'escalates (HealingActionFailed) when the retries fail the same way',
  targetIs: 'the name of an n8n instance',
  async check(deps, input) {
    if (!input.target) return { field: 'target', message: 'must name an n8n instance' }
    // The rule's own check skips targets when its params hold placeholders (`{{execution_id}}`), which this template's always do.
    if (!(await findN8nInstance(deps.db, input.target)))
      return { field: 'target', message: `no n8n instance named ${input.target}` }
    return undefined
  },
  build(input) {
    const n = input.maxPerExecution ?? 3
    const m = input.maxPerWorkflowPerHour ?? 10
    const classes = input.classes ?? [...TRANSIENT_CLASSES]
    const target = input.target!
    return {
      name: input.name ?? `retry transient n8n failures (${target})`,
      description: `retries ${classes.join(', ')} failures of ${target}: ≤ ${n} per execution, ≤ ${m} per workflow an hour`,
      enabled: input.enabled ?? true,
      trigger: {
        type: 'alert',
        matchers: [
          { label: 'alertname', op: '=', value: 'n8n_execution_failed' },
          { label: 'instance', op: '=', value: target },
          { label: 'class', op: '=~', value: classes.join('|') },
        ],
      },
      actionType: 'n8n_retry',
      target,
      // `execution_id` is the alert's annotation: the latest failed execution of that class and node.
      params: { executionId: '{{execution_id}}', classes, maxPerExecution: n, maxPerWorkflowPerHour: m },
      // Every failure alert starts its own chain; the per-workflow cap is the retrier's, not the rule's.
      cooldownMs: 0,
      maxPerHour: 1000,
      // One attempt of the action is one retry: the chain is at most `n` long.
      maxAttempts: n,
      verification: { type: 'none' },
      notify: { channelIds: [], on: [] },
    } as RuleInput
  },
}

/** The alert the "Prompt performance drop" alert-rule template raises (its rule's name is the alertname). */
export const PROMPT_SCORE_ALERT = 'Prompt score below 0.7'

const promptRollback: RulePreset = {
  id: 'prompt-performance-drop',
  name: 'prompt performance drop: roll the prompt back',
  describe:
    'When the "Prompt performance drop" alert fires for the version a label (production) points at, moves the ' +
    "label back to the previous version; succeeds when the restored version's mean score reaches 0.7 within " +
    '10 minutes, otherwise moves the label back again',
  targetIs: 'the name of one prompt, or nothing for every prompt ({{prompt}} from the alert)',
  async check(deps, input) {
    if (
      input.target &&
      deps.prompts &&
      (await deps.prompts.labelVersion(input.target, input.label ?? 'production')) === undefined
    )
      return { field: 'target', message: `no prompt ${input.target} with the label ${input.label ?? 'production'}` }
    return undefined
  },
  build(input) {
    const label = input.label ?? 'production'
    const within = input.verifyWithinMs ?? 600_000
    return {
      name: input.name ?? `roll back ${input.target ?? 'prompts'} on a score drop`,
      description: `moves ${label} of ${input.target ?? 'the alert’s prompt'} back when its score drops; undone if the restored version does not reach ${input.minScore ?? 0.7} within ${Math.round(within / 1000)} s`,
      enabled: input.enabled ?? true,
      trigger: {
        type: 'alert',
        matchers: [
          { label: 'alertname', op: '=', value: PROMPT_SCORE_ALERT },
          ...(input.target ? [{ label: 'prompt', op: '=' as const, value: input.target }] : []),
        ],
      },
      actionType: 'prompt_rollback',
      target: input.target ?? '{{prompt}}',
      params: { label, to: 'previous', ifVersion: '{{version}}', minScore: input.minScore ?? 0.7, minSamples: 3 },
      cooldownMs: 0,
      maxPerHour: 60,
      maxAttempts: 3,
      // Scores arriving at all within the window; the action's own check then asks that the restored
      // version's scores since the move reach minScore (see actions/prompt-rollback.ts).
      verification: {
        type: 'metric',
        metric: 'prompt_score',
        agg: 'count',
        windowMs: within,
        comparator: '>=',
        value: 1,
        afterMs: 0,
        timeoutMs: within,
      },
      rollbackOnFailure: true,
      notify: { channelIds: [], on: [] },
    } as RuleInput
  },
}

export const RULE_PRESETS: readonly RulePreset[] = [retryTransient, promptRollback]
export const rulePreset = (id: string) => RULE_PRESETS.find((p) => p.id === id)
export const presetJson = (p: RulePreset) => ({ id: p.id, name: p.name, describe: p.describe, target: p.targetIs })

/** Creates the template's rule, after the template's own check of the answers. */
export async function createFromPreset(deps: HealingCtx, preset: RulePreset, input: PresetInput, now: number) {
  const problem = await preset.check(deps, input)
  if (problem) throw invalid([problem])
  return createRule(deps, preset.build(input), now)
}
