/**
 * Rule templates: a ready rule made from a few answers, one click in the rules page or one call
 * (`POST /api/v1/healing/rule-templates/:id`). The rule made is an ordinary rule, edited like any.
 */
import * as v from 'valibot'
import { TRANSIENT_CLASSES } from '../actions/n8n-retry.ts'
import type { RuleInput } from '../input.ts'
import { findN8nInstance } from '../actions/n8n-instances.ts'
import { invalid } from '../orchestrator/enqueue.ts'
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
  /** The n8n instance whose workflows it watches (its name). */
  target: v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'too long')),
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
})
export type PresetInput = v.InferOutput<typeof PresetBody>

export type RulePreset = {
  id: string
  name: string
  describe: string
  /** What `target` names. */
  targetIs: string
  build(input: PresetInput): RuleInput
}

const retryTransient: RulePreset = {
  id: 'n8n-retry-transient',
  name: 'retry transient n8n failures',
  describe:
    'Retries n8n executions that failed as rate_limit, network, upstream_5xx or timeout (never credentials, ' +
    'expression or code), after 5 s, 15 s, 30 s; at most 3 retries per execution and 10 per workflow an hour; ' +
    'escalates (HealingActionFailed) when the retries fail the same way',
  targetIs: 'the name of an n8n instance',
  build(input) {
    const n = input.maxPerExecution ?? 3
    const m = input.maxPerWorkflowPerHour ?? 10
    const classes = input.classes ?? [...TRANSIENT_CLASSES]
    return {
      name: input.name ?? `retry transient n8n failures (${input.target})`,
      description: `retries ${classes.join(', ')} failures of ${input.target}: ≤ ${n} per execution, ≤ ${m} per workflow an hour`,
      enabled: input.enabled ?? true,
      trigger: {
        type: 'alert',
        matchers: [
          { label: 'alertname', op: '=', value: 'n8n_execution_failed' },
          { label: 'instance', op: '=', value: input.target },
          { label: 'class', op: '=~', value: classes.join('|') },
        ],
      },
      actionType: 'n8n_retry',
      target: input.target,
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

export const RULE_PRESETS: readonly RulePreset[] = [retryTransient]
export const rulePreset = (id: string) => RULE_PRESETS.find((p) => p.id === id)
export const presetJson = (p: RulePreset) => ({ id: p.id, name: p.name, describe: p.describe, target: p.targetIs })

/**
 * Creates the template's rule. Its target is checked here: the rule's own check skips targets
 * when its params hold placeholders (`{{execution_id}}`), which this template's always do.
 */
export async function createFromPreset(deps: HealingCtx, preset: RulePreset, input: PresetInput, now: number) {
  if (!(await findN8nInstance(deps.db, input.target)))
    throw invalid([{ field: 'target', message: `no n8n instance named ${input.target}` }])
  return createRule(deps, preset.build(input), now)
}
