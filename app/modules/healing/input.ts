import * as v from 'valibot'
import { comparators } from '../../../db/schema/alerts.ts'
import { healingModes, healingStatuses } from '../../../db/schema/healing.ts'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { TimeInput } from '../../lib/time.ts'
import { regexProblem } from '../../lib/matchers.ts'
import { Matcher } from '../alerts/index.ts'
import { aggregations, Duration, LABEL_NAME, MetricName } from '../metrics/index.ts'

const DAY = 86_400_000
const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const int = (min: number, max: number) =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  )
/** Milliseconds, or a duration like 30s, 5m, 1h, 1d. */
const Ms = (min: number, max: number) =>
  v.pipe(
    v.union([Duration, v.pipe(v.number(), v.integer())], 'must be a duration like 30s, 5m, 1h or whole milliseconds'),
    v.check((ms) => ms >= min, `must be at least ${min} ms`),
    v.check((ms) => ms <= max, `must be at most ${max} ms`),
  )
const Regex = v.pipe(
  text(500),
  v.check(
    (s) => regexProblem(s) === undefined,
    (issue) => regexProblem(String(issue.input)) ?? 'must be a valid RE2 regular expression',
  ),
)
const Matchers = v.pipe(
  v.array(Matcher, 'must be a list of {label, op, value}'),
  v.maxLength(20, 'at most 20 matchers'),
)
const Comparator = v.picklist(comparators, `must be one of ${comparators.join(' ')}`)
const Agg = v.picklist(aggregations, `must be one of ${aggregations.join(', ')}`)
const LabelName = v.pipe(text(100), v.regex(LABEL_NAME, 'must match [a-zA-Z_][a-zA-Z0-9_]*'))
const Id = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(100, 'must be at most 100 characters'),
)
const HttpUrl = v.pipe(
  text(2000),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an absolute http or https URL'),
)

export const Trigger = v.variant(
  'type',
  [
    v.strictObject({ type: v.literal('alert'), ruleId: v.optional(Id), matchers: v.optional(Matchers) }),
    v.strictObject({
      type: v.literal('detection'),
      metric: MetricName,
      matchers: v.optional(Matchers),
      agg: Agg,
      windowMs: Ms(1000, 30 * DAY),
      comparator: Comparator,
      value: v.pipe(v.number('must be a number'), v.finite('must be finite')),
      targetLabel: v.optional(LabelName),
      targetPattern: v.optional(Regex),
    }),
    v.strictObject({ type: v.literal('breaker'), keyPattern: Regex }),
  ],
  'must be {type: alert|detection|breaker, …}',
)

const after = { afterMs: Ms(0, DAY), timeoutMs: v.optional(Ms(1, DAY)) }
export const Verification = v.variant(
  'type',
  [
    v.strictObject({ type: v.literal('none') }),
    v.strictObject({
      type: v.literal('metric'),
      metric: MetricName,
      matchers: v.optional(Matchers),
      agg: Agg,
      windowMs: Ms(1000, 30 * DAY),
      comparator: Comparator,
      value: v.pipe(v.number('must be a number'), v.finite('must be finite')),
      ...after,
    }),
    v.strictObject({ type: v.literal('breaker_closed'), key: text(300), ...after }),
    v.strictObject({ type: v.literal('alert_resolved'), ...after }),
    v.strictObject({ type: v.literal('http'), url: HttpUrl, expectStatus: v.optional(int(100, 599)), ...after }),
  ],
  'must be {type: none|metric|breaker_closed|alert_resolved|http, …}',
)

export const Notify = v.strictObject({
  channelIds: v.pipe(v.array(Id, 'must be a list of channel ids'), v.maxLength(20, 'at most 20 channels')),
  on: v.pipe(
    v.array(
      v.picklist(['start', 'success', 'failure', 'approval'], 'must be start, success, failure or approval'),
      'must be a list',
    ),
    v.maxLength(4),
  ),
})

const Params = v.record(v.string(), v.unknown(), 'must be an object')

const ruleFields = {
  name: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(200, 'must be at most 200 characters'),
  ),
  description: v.optional(text(2000)),
  enabled: v.optional(v.boolean('must be true or false')),
  trigger: Trigger,
  actionType: v.pipe(text(50), v.minLength(1, 'must not be empty')),
  target: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(300, 'must be at most 300 characters'),
  ),
  params: v.optional(Params),
  mode: v.optional(v.picklist(healingModes, `must be one of ${healingModes.join(', ')}`)),
  requiresApproval: v.optional(v.boolean('must be true or false')),
  cooldownMs: v.optional(Ms(0, 30 * DAY)),
  maxPerHour: v.optional(int(1, 3600)),
  priority: v.optional(int(-1000, 1000)),
  maxAttempts: v.optional(int(1, 20)),
  approvalTtlMs: v.optional(Ms(1000, 30 * DAY)),
  verification: v.optional(Verification),
  rollbackOnFailure: v.optional(v.boolean('must be true or false')),
  notify: v.optional(Notify),
}
export const RuleBody = v.strictObject(ruleFields)
export type RuleInput = v.InferOutput<typeof RuleBody>
export const RulePatch = v.strictObject(
  Object.fromEntries(Object.entries(ruleFields).map(([k, s]) => [k, v.optional(s as v.GenericSchema)])) as {
    [K in keyof typeof ruleFields]: v.OptionalSchema<
      v.GenericSchema<unknown, v.InferOutput<(typeof ruleFields)[K]>>,
      undefined
    >
  },
)
export type RulePatchInput = v.InferOutput<typeof RulePatch>

export const IdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100, 'must be at most 100 characters')) })

const csv = <T extends readonly string[]>(allowed: T, what: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
      v.check(
        (xs) => xs.every((x) => (allowed as readonly string[]).includes(x)),
        `${what} must be among ${allowed.join(', ')}`,
      ),
    ),
  ) as v.OptionalSchema<v.GenericSchema<string, T[number][]>, undefined>

export const RuleListQuery = v.object({
  enabled: v.optional(v.picklist(['true', 'false'], 'must be true or false')),
  actionType: v.optional(text(50)),
  limit: LimitInput,
  cursor: CursorInput,
})

export const ActionListQuery = v.object({
  status: csv(healingStatuses, 'status'),
  rule: v.optional(text(100)),
  target: v.optional(text(300)),
  type: v.optional(text(50)),
  limit: LimitInput,
  cursor: CursorInput,
})

export const ActionBody = v.strictObject({
  type: v.pipe(text(50), v.minLength(1, 'must not be empty')),
  target: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(300, 'must be at most 300 characters'),
  ),
  params: v.optional(Params),
  dryRun: v.optional(v.boolean('must be true or false')),
  priority: v.optional(int(-1000, 1000)),
  maxAttempts: v.optional(int(1, 20)),
  reason: v.optional(text(500)),
  idempotencyKey: v.optional(v.pipe(text(200), v.minLength(1, 'must not be empty'))),
  requiresApproval: v.optional(v.boolean('must be true or false')),
  approvalTtlMs: v.optional(Ms(1000, 30 * DAY)),
  verification: v.optional(Verification),
  rollbackOnFailure: v.optional(v.boolean('must be true or false')),
  notify: v.optional(Notify),
})

export const DecisionQuery = v.object({ comment: v.optional(text(1000)) })

export const N8nInstanceBody = v.strictObject({
  name: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1–100 letters, digits, _ . -'),
  ),
  baseUrl: HttpUrl,
  apiKey: v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(2000, 'must be at most 2000 characters'),
  ),
})
export const N8nInstancePatch = v.strictObject({
  name: v.optional(N8nInstanceBody.entries.name),
  baseUrl: v.optional(HttpUrl),
  apiKey: v.optional(N8nInstanceBody.entries.apiKey),
})

export const SimulateBody = v.strictObject({
  ruleId: v.optional(Id),
  rule: v.optional(RuleBody),
  from: TimeInput,
  to: v.optional(TimeInput),
})

export const StatsQuery = v.object({ window: v.optional(v.picklist(['24h', '7d', '30d'], 'must be 24h, 7d or 30d')) })
