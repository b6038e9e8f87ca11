/** Valibot schemas of Alertmanager's API v2 requests (api/v2/openapi.yaml). */
import * as v from 'valibot'
import { LABEL_NAME } from '../../lib/matchers.ts'

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const required = (max: number) => v.pipe(text(max), v.minLength(1, 'must not be empty'))

/** `true`/`false` as query strings; Alertmanager's default when absent is given per field. */
const Flag = (fallback: boolean) =>
  v.optional(
    v.pipe(
      v.picklist(['true', 'false'], 'must be true or false'),
      v.transform((s) => s === 'true'),
    ),
    fallback ? 'true' : 'false',
  )

/** `filter` may repeat (`?filter=a="1"&filter=b=~"x.*"`): one matcher each, as amtool sends them. */
const Filters = v.optional(
  v.pipe(
    v.union([text(1000), v.array(text(1000))], 'must be label matchers like alertname="X"'),
    v.transform((f) => (Array.isArray(f) ? f : [f])),
    v.maxLength(20, 'at most 20 matchers'),
  ),
  [],
)

export const AlertsQuery = v.object({
  filter: Filters,
  active: Flag(true),
  silenced: Flag(true),
  inhibited: Flag(true),
  unprocessed: Flag(true),
  receiver: v.optional(text(200)),
})

export const GroupsQuery = v.object({
  filter: Filters,
  active: Flag(true),
  silenced: Flag(true),
  inhibited: Flag(true),
  receiver: v.optional(text(200)),
})

export const SilencesQuery = v.object({ filter: Filters })

const AmMatcher = v.strictObject({
  name: v.pipe(required(200), v.regex(LABEL_NAME, 'must be a label name like alertname or env')),
  value: text(1000),
  isRegex: v.boolean('must be true or false'),
  isEqual: v.optional(v.boolean('must be true or false')),
})

/** A date-time string, as Alertmanager's spec has it (RFC 3339), to epoch ms. */
const Time = v.pipe(
  v.string('must be an RFC 3339 time'),
  v.isoTimestamp('must be an RFC 3339 time'),
  v.transform((s) => Date.parse(s)),
)

/** postableSilence: with `id`, it replaces that silence. Its fields only, as amtool, karma and Grafana send. */
export const PostableSilence = v.strictObject({
  id: v.optional(text(100)),
  matchers: v.pipe(
    v.array(AmMatcher, 'must be a list of {name, value, isRegex, isEqual}'),
    v.minLength(1, 'must have at least one matcher'),
    v.maxLength(20, 'at most 20 matchers'),
  ),
  startsAt: Time,
  endsAt: Time,
  createdBy: required(200),
  comment: required(1000),
})

export const SilenceIdParam = v.object({ id: required(100) })
