import * as v from 'valibot'
import { severities } from '../../../db/schema/alerts.ts'
import { channelTypes, webhookEvents } from '../../../db/schema/notify.ts'
import { regexProblem } from '../../lib/matchers.ts'
import { Matcher } from '../alerts/index.ts'
import { HttpUrl } from '../components/index.ts'
import { DurationBetween, LABEL_NAME } from '../metrics/index.ts'

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const Name = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(200, 'must be at most 200 characters'),
)
const HeaderName = v.pipe(
  v.string('must be a string'),
  v.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'must be an HTTP header name'),
)
const Email = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.maxLength(320, 'must be at most 320 characters'),
  v.email('must be an email address'),
)

/** Each channel type's settings. Secret fields are sealed at rest and masked in replies. */
export const settingsSchemas = {
  webhook: v.strictObject({
    url: HttpUrl,
    headers: v.optional(
      v.pipe(
        v.record(HeaderName, text(2000), 'must be an object of header name → value'),
        v.check((h) => Object.keys(h).length <= 20, 'at most 20 headers'),
      ),
    ),
  }),
  slack: v.strictObject({ webhookUrl: HttpUrl }),
  pagerduty: v.strictObject({
    routingKey: v.pipe(
      v.string('must be a string'),
      v.trim(),
      v.minLength(1, 'must not be empty'),
      v.maxLength(200, 'must be at most 200 characters'),
    ),
    baseUrl: v.optional(HttpUrl),
  }),
  n8n: v.strictObject({ url: HttpUrl }),
  email: v.strictObject({
    host: v.pipe(
      v.string('must be a string'),
      v.trim(),
      v.minLength(1, 'must not be empty'),
      v.maxLength(253, 'must be at most 253 characters'),
    ),
    port: v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(1, 'must be 1–65535'),
      v.maxValue(65_535, 'must be 1–65535'),
    ),
    secure: v.optional(v.boolean('must be true or false')),
    user: v.optional(text(320)),
    password: v.optional(text(1000)),
    from: Email,
    to: v.pipe(
      v.array(Email, 'must be a list of email addresses'),
      v.minLength(1, 'must name at least one recipient'),
      v.maxLength(50, 'at most 50 recipients'),
    ),
  }),
} as const

/** The secret settings of each type (`headers`: every value is secret). */
export const secretFields: Record<(typeof channelTypes)[number], string[]> = {
  webhook: ['url', 'headers'],
  slack: ['webhookUrl'],
  pagerduty: ['routingKey'],
  n8n: ['url'],
  email: ['password'],
}

export const ChannelBody = v.strictObject({
  name: Name,
  type: v.picklist(channelTypes, `must be one of ${channelTypes.join(', ')}`),
  enabled: v.optional(v.boolean('must be true or false')),
  settings: v.record(v.string(), v.unknown(), 'must be an object'),
})
export type ChannelInput = v.InferOutput<typeof ChannelBody>
export const ChannelPatch = v.strictObject({
  name: v.optional(Name),
  enabled: v.optional(v.boolean('must be true or false')),
  /** Merged over the current settings: secret fields left out keep their value. */
  settings: v.optional(v.record(v.string(), v.unknown(), 'must be an object')),
})
export type ChannelPatchInput = v.InferOutput<typeof ChannelPatch>

export const IdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100, 'must be at most 100 characters')) })
export const NumericIdParam = v.object({ id: v.pipe(v.string(), v.regex(/^\d{1,15}$/, 'must be a notification id')) })

const DAY = 86_400_000
const Ids = v.pipe(
  v.array(v.pipe(v.string('must be a string'), v.maxLength(100)), 'must be a list of channel ids'),
  v.maxLength(20, 'at most 20 channels'),
)
const PolicyMatcher = v.pipe(
  Matcher,
  v.check(
    (m) => (m.op === '=~' || m.op === '!~' ? !regexProblem(m.value) : true),
    (issue) =>
      `value ${regexProblem((issue.input as { value: string }).value) ?? 'must be a valid RE2 regular expression'}`,
  ),
)

const policyFields = {
  name: Name,
  position: v.optional(
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(1_000_000, 'must be at most 1000000'),
    ),
  ),
  matchers: v.optional(
    v.pipe(v.array(PolicyMatcher, 'must be a list of {label, op, value}'), v.maxLength(20, 'at most 20 matchers')),
  ),
  channelIds: v.optional(Ids),
  groupBy: v.optional(
    v.pipe(
      v.array(
        v.pipe(v.string('must be a string'), v.regex(LABEL_NAME, 'must be a label name')),
        'must be a list of label names',
      ),
      v.maxLength(10, 'at most 10 labels'),
    ),
  ),
  groupWait: v.optional(DurationBetween(0, DAY)),
  groupInterval: v.optional(DurationBetween(0, DAY)),
  repeatInterval: v.optional(DurationBetween(60_000, 30 * DAY)),
  continue: v.optional(v.boolean('must be true or false')),
  sendResolved: v.optional(v.boolean('must be true or false')),
  escalations: v.optional(
    v.pipe(
      v.array(
        v.strictObject({
          after: DurationBetween(0, 7 * DAY),
          channelIds: v.pipe(Ids, v.minLength(1, 'must name at least one channel')),
        }),
        'must be a list of {after, channelIds}',
      ),
      v.maxLength(10, 'at most 10 steps'),
    ),
  ),
  enabled: v.optional(v.boolean('must be true or false')),
}
export const PolicyBody = v.strictObject(policyFields)
export type PolicyInput = v.InferOutput<typeof PolicyBody>
export const PolicyPatch = v.strictObject({ ...policyFields, name: v.optional(Name) })
export type PolicyPatchInput = v.InferOutput<typeof PolicyPatch>

export const SubscriptionBody = v.strictObject({
  url: HttpUrl,
  events: v.pipe(
    v.array(v.picklist(webhookEvents, `must be one of ${webhookEvents.join(', ')}`), 'must be a list of events'),
    v.minLength(1, 'must name at least one event'),
    v.maxLength(webhookEvents.length),
  ),
  minSeverity: v.optional(v.picklist(severities, `must be one of ${severities.join(', ')}`)),
})
export type SubscriptionInput = v.InferOutput<typeof SubscriptionBody>
