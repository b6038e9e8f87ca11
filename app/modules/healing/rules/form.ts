/**
 * The healing rule form as posted: the fields parsed into a rule (errors named by field) and a
 * stored rule back into the form's values.
 */
import { maskHeaders } from '../actions/headers.ts'
import * as v from 'valibot'
import type { HealingRule } from '../../../../db/schema/healing.ts'
import { badRequest, type ErrorDetail } from '../../../lib/errors.ts'
import { issuesToDetails } from '../../../lib/validate.ts'
import { matcherLines, parseMatchers } from '../../../lib/matchers.ts'
import { RuleBody, type RuleInput } from '../input.ts'
import { dur } from '../../../lib/format.ts'

const Value = v.union(
  [
    v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')),
    v.pipe(v.array(v.pipe(v.string(), v.maxLength(200))), v.maxLength(50, 'at most 50 values')),
  ],
  'must be text',
)
export const FormBody = v.record(v.string(), Value)
export type Form = v.InferOutput<typeof FormBody>
export const DAY = 86_400_000
/** The simulation's time ranges, and the longest span it replays. */
export const ranges = { '1h': 3_600_000, '6h': 21_600_000, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const
export const MAX_SIMULATE_MS = 30 * DAY

export const one = (f: Form, k: string) => {
  const x = f[k]
  return (Array.isArray(x) ? x.at(-1) : x)?.trim() ?? ''
}
const many = (f: Form, k: string) => {
  const x = f[k]
  return (Array.isArray(x) ? x : x === undefined ? [] : [x]).map((s) => s.trim()).filter(Boolean)
}
const opt = (s: string) => (s === '' ? undefined : s)
/** Numbers as numbers; anything else stays text so the schema names the field. */
const num = (s: string) => (s === '' ? undefined : /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(s) ? Number(s) : s)
const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined))

/**
 * The rule form into the API's rule body, checked by the same schema: every problem names the
 * field as the API would (`trigger.keyPattern`, `verification.url`, `params`), and the form's
 * inputs carry those names.
 */
export function parseHealingRuleForm(f: Form, opts: { draft?: boolean } = {}): RuleInput {
  const errors: ErrorDetail[] = []
  const type = one(f, 'trigger.type')
  const matchers = parseMatchers(one(f, 'trigger.matchers'), 'trigger.matchers', errors)
  const trigger =
    type === 'alert'
      ? drop({ type, ruleId: opt(one(f, 'trigger.ruleId')), matchers: matchers.length ? matchers : undefined })
      : type === 'detection'
        ? drop({
            type,
            metric: one(f, 'trigger.metric'),
            matchers: matchers.length ? matchers : undefined,
            agg: one(f, 'trigger.agg'),
            windowMs: opt(one(f, 'trigger.windowMs')),
            comparator: one(f, 'trigger.comparator'),
            value: num(one(f, 'trigger.value')),
            targetLabel: opt(one(f, 'trigger.targetLabel')),
            targetPattern: opt(one(f, 'trigger.targetPattern')),
          })
        : type === 'breaker'
          ? { type, keyPattern: one(f, 'trigger.keyPattern') }
          : { type }
  let params: unknown
  const rawParams = one(f, 'params')
  if (rawParams) {
    try {
      params = JSON.parse(rawParams)
    } catch {
      params = undefined
    }
    if (!params || typeof params !== 'object' || Array.isArray(params))
      errors.push({ field: 'params', message: 'must be a JSON object, e.g. {"url": "https://api.internal/restart"}' })
  }
  const vType = one(f, 'verification.type') || 'none'
  const after = { afterMs: one(f, 'verification.afterMs') || '0', timeoutMs: opt(one(f, 'verification.timeoutMs')) }
  const vMatchers =
    vType === 'metric' ? parseMatchers(one(f, 'verification.matchers'), 'verification.matchers', errors) : []
  const verification =
    vType === 'metric'
      ? drop({
          type: vType,
          metric: one(f, 'verification.metric'),
          matchers: vMatchers.length ? vMatchers : undefined,
          agg: one(f, 'verification.agg'),
          windowMs: opt(one(f, 'verification.windowMs')),
          comparator: one(f, 'verification.comparator'),
          value: num(one(f, 'verification.value')),
          ...after,
        })
      : vType === 'breaker_closed'
        ? drop({ type: vType, key: one(f, 'verification.key'), ...after })
        : vType === 'alert_resolved'
          ? drop({ type: vType, ...after })
          : vType === 'http'
            ? drop({
                type: vType,
                url: one(f, 'verification.url'),
                expectStatus: num(one(f, 'verification.expectStatus')),
                ...after,
              })
            : { type: vType }
  const raw = drop({
    name: one(f, 'name') || (opts.draft ? '(draft)' : ''),
    description: one(f, 'description'),
    enabled: opts.draft ? true : one(f, 'enabled') === 'on' || one(f, 'enabled') === 'true',
    trigger,
    actionType: one(f, 'actionType'),
    target: one(f, 'target'),
    params: errors.some((e) => e.field === 'params') ? undefined : params,
    mode: opt(one(f, 'mode')),
    cooldownMs: opt(one(f, 'cooldownMs')),
    maxPerHour: num(one(f, 'maxPerHour')),
    priority: num(one(f, 'priority')),
    maxAttempts: num(one(f, 'maxAttempts')),
    approvalTtlMs: opt(one(f, 'approvalTtlMs')),
    verification,
    rollbackOnFailure: one(f, 'rollbackOnFailure') === 'on' || one(f, 'rollbackOnFailure') === 'true',
    notify: { channelIds: many(f, 'notify.channelIds'), on: many(f, 'notify.on') },
  })
  const result = v.safeParse(RuleBody, raw)
  if (!result.success) errors.push(...issuesToDetails(result.issues))
  if (errors.length || !result.success) throw badRequest('Invalid rule', errors)
  return result.output
}

export type Values = Record<string, string>
export function valuesOf(r?: HealingRule): Values {
  if (!r)
    return {
      'trigger.type': 'breaker',
      'trigger.keyPattern': '^model:',
      actionType: 'model_failover',
      mode: 'automated',
      cooldownMs: '5m',
      maxPerHour: '6',
      priority: '0',
      maxAttempts: '3',
      approvalTtlMs: '1h',
      'verification.type': 'none',
      'verification.afterMs': '10s',
      rollbackOnFailure: 'on',
      enabled: 'on',
      'trigger.agg': 'avg',
      'trigger.windowMs': '5m',
      'trigger.comparator': '>',
    }
  const t = r.trigger as Record<string, unknown>
  const ver = r.verification as Record<string, unknown>
  const s = (x: unknown) => (x === undefined || x === null ? '' : String(x))
  const m = (x: unknown) => (Array.isArray(x) ? matcherLines(x) : '')
  return {
    name: r.name,
    description: r.description,
    enabled: r.enabled ? 'on' : '',
    actionType: r.actionType,
    target: r.target,
    params: Object.keys(r.params).length ? JSON.stringify(maskHeaders(r.params)) : '',
    mode: r.mode,
    cooldownMs: dur(r.cooldownMs) || '0',
    maxPerHour: String(r.maxPerHour),
    priority: String(r.priority),
    maxAttempts: String(r.maxAttempts),
    approvalTtlMs: dur(r.approvalTtlMs),
    rollbackOnFailure: r.rollbackOnFailure ? 'on' : '',
    'trigger.type': r.trigger.type,
    'trigger.ruleId': s(t.ruleId),
    'trigger.matchers': m(t.matchers),
    'trigger.metric': s(t.metric),
    'trigger.agg': s(t.agg) || 'avg',
    'trigger.windowMs': dur(t.windowMs as number) || '5m',
    'trigger.comparator': s(t.comparator) || '>',
    'trigger.value': s(t.value),
    'trigger.targetLabel': s(t.targetLabel),
    'trigger.targetPattern': s(t.targetPattern),
    'trigger.keyPattern': s(t.keyPattern),
    'verification.type': r.verification.type,
    'verification.metric': s(ver.metric),
    'verification.matchers': m(ver.matchers),
    'verification.agg': s(ver.agg) || 'avg',
    'verification.windowMs': dur(ver.windowMs as number) || '1m',
    'verification.comparator': s(ver.comparator) || '<',
    'verification.value': s(ver.value),
    'verification.key': s(ver.key),
    'verification.url': s(ver.url),
    'verification.expectStatus': s(ver.expectStatus),
    'verification.afterMs': dur(ver.afterMs as number) || '0',
    'verification.timeoutMs': dur(ver.timeoutMs as number),
    'notify.channelIds': r.notify.channelIds.join(','),
    'notify.on': r.notify.on.join(','),
  }
}
