import * as v from 'valibot'
import {
  alertSources,
  alertStatuses,
  comparators,
  matcherOps,
  ruleKinds,
  severities,
} from '../../../db/schema/alerts.ts'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { TimeInput } from '../../lib/time.ts'
import { HttpUrl } from '../components/index.ts'
import { aggregations, DurationBetween, LABEL_NAME, Labels, MetricName } from '../metrics/index.ts'

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const LabelName = v.pipe(
  v.string('must be a string'),
  v.maxLength(100, 'must be at most 100 characters'),
  v.regex(LABEL_NAME, 'must match [a-zA-Z_][a-zA-Z0-9_]*'),
)

const DAY = 86_400_000

export const Matcher = v.strictObject({
  label: LabelName,
  op: v.picklist(matcherOps, `must be one of ${matcherOps.join(' ')}`),
  value: text(1024),
})
const Matchers = v.pipe(
  v.array(Matcher, 'must be a list of {label, op, value}'),
  v.maxLength(20, 'at most 20 matchers'),
)

export const RuleParams = v.strictObject({
  denominator: v.optional(MetricName),
  denominatorMatchers: v.optional(Matchers),
  compareTo: v.optional(v.picklist(['previous', 'baseline'], 'must be previous or baseline')),
  baseline: v.optional(DurationBetween(60_000, 90 * DAY)),
  unit: v.optional(v.picklist(['percent', 'ratio'], 'must be percent or ratio')),
  minutes: v.optional(
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(1, 'must be at least 1'),
      v.maxValue(43_200, 'must be at most 43200 (30 days)'),
    ),
  ),
  zScore: v.optional(
    v.pipe(
      v.number('must be a number'),
      v.finite('must be finite'),
      v.minValue(0.5, 'must be at least 0.5'),
      v.maxValue(100, 'must be at most 100'),
    ),
  ),
  step: v.optional(DurationBetween(1000, DAY)),
  direction: v.optional(v.picklist(['both', 'up', 'down'], 'must be both, up or down')),
})

const ruleFields = {
  name: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(200, 'must be at most 200 characters'),
  ),
  kind: v.picklist(ruleKinds, `must be one of ${ruleKinds.join(', ')}`),
  metric: MetricName,
  matchers: v.optional(Matchers),
  by: v.optional(v.pipe(v.array(LabelName, 'must be a list of label names'), v.maxLength(10, 'at most 10 labels'))),
  agg: v.optional(v.picklist(aggregations, `must be one of ${aggregations.join(', ')}`)),
  window: v.optional(DurationBetween(1000, 90 * DAY)),
  comparator: v.optional(v.picklist(comparators, `must be one of ${comparators.join(' ')}`)),
  value: v.optional(v.pipe(v.number('must be a number'), v.finite('must be a finite number'))),
  params: v.optional(RuleParams),
  for: v.optional(DurationBetween(0, 7 * DAY)),
  keepFiringFor: v.optional(DurationBetween(0, 7 * DAY)),
  severity: v.optional(v.picklist(severities, `must be one of ${severities.join(', ')}`)),
  labels: v.optional(Labels),
  summary: v.optional(text(1000)),
  description: v.optional(text(4000)),
  runbookUrl: v.optional(v.nullable(HttpUrl)),
  enabled: v.optional(v.boolean('must be true or false')),
}

export const RuleBody = v.strictObject(ruleFields)
export type RuleInput = v.InferOutput<typeof RuleBody>
export const RulePatch = v.strictObject({
  ...ruleFields,
  name: v.optional(ruleFields.name),
  kind: v.optional(ruleFields.kind),
  metric: v.optional(ruleFields.metric),
})
export type RulePatchInput = v.InferOutput<typeof RulePatch>

export const IdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100, 'must be at most 100 characters')) })

export const RuleListQuery = v.object({
  limit: LimitInput,
  cursor: CursorInput,
  kind: v.optional(ruleFields.kind),
  enabled: v.optional(v.picklist(['true', 'false'], 'must be true or false')),
})

const csv = <T extends readonly string[]>(values: T) =>
  v.optional(
    v.pipe(
      v.string(),
      v.maxLength(200),
      v.transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
      v.check(
        (list) => list.every((x) => (values as readonly string[]).includes(x)),
        `must be one or more of ${values.join(', ')}, separated by commas`,
      ),
    ),
  )

export const AlertListQuery = v.object({
  limit: LimitInput,
  cursor: CursorInput,
  status: csv(alertStatuses),
  severity: csv(severities),
  source: v.optional(v.pipe(v.string(), v.maxLength(100))),
  /** As stored (`api:<fingerprint given>` for reported events), for clients that know their own key. */
  fingerprint: v.optional(v.pipe(v.string(), v.maxLength(300, 'must be at most 300 characters'))),
  rule: v.optional(v.pipe(v.string(), v.maxLength(100))),
  silenced: v.optional(v.picklist(['true', 'false'], 'must be true or false')),
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
})

/** The generic alert event for scripts, agents and n8n. */
export const AlertEventBody = v.strictObject({
  title: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(500, 'must be at most 500 characters'),
  ),
  severity: v.picklist(severities, `must be one of ${severities.join(', ')}`),
  status: v.picklist(['firing', 'resolved'], 'must be firing or resolved'),
  labels: v.optional(Labels),
  annotations: v.optional(
    v.pipe(
      v.record(
        v.pipe(v.string(), v.maxLength(100, 'annotation names are at most 100 characters')),
        text(4000),
        'must be an object of string annotations',
      ),
      v.check((a) => Object.keys(a).length <= 32, 'at most 32 annotations'),
    ),
  ),
  value: v.optional(v.nullable(v.pipe(v.number('must be a number'), v.finite('must be a finite number')))),
  fingerprint: v.optional(
    v.pipe(
      v.string('must be a string'),
      v.minLength(1, 'must not be empty'),
      v.maxLength(200, 'must be at most 200 characters'),
      v.regex(/^[\w.:@/-]+$/, 'may hold letters, digits and _ . : @ / -'),
    ),
  ),
  source: v.optional(
    v.pipe(
      v.string('must be a string'),
      v.maxLength(50, 'must be at most 50 characters'),
      v.regex(/^[a-z][a-z0-9_-]*$/, 'must be lower-case letters, digits, _ or -'),
    ),
  ),
})
export type AlertEventInput = v.InferOutput<typeof AlertEventBody>

export const knownSources = alertSources
