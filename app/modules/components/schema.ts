import * as v from 'valibot'
import { componentKinds, httpMethods } from '../../../db/schema/components.ts'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { TimeInput } from '../../lib/time.ts'
import { Duration, Labels } from '../metrics/index.ts'

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/
export const Name = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(100, 'must be at most 100 characters'),
  v.regex(NAME, 'must start with a letter or digit and hold only letters, digits, _ . : -'),
)

const ComponentLabels = v.pipe(
  Labels,
  v.check((l) => !('component' in l), 'the component label is set from the name'),
)

const int = (min: number, max: number, unit = '') =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(min, `must be at least ${min}${unit}`),
    v.maxValue(max, `must be at most ${max}${unit}`),
  )

/** A status code (`204`) or an inclusive range (`"200-299"`), Uptime Kuma style. */
const StatusSpec = v.union(
  [
    v.pipe(int(100, 599), v.transform(String)),
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, 'must be a status code like 204 or a range like 200-299'),
      v.check((s) => {
        const [lo, hi = lo] = s.split('-').map(Number)
        return lo! <= hi!
      }, 'a range must go from low to high'),
    ),
  ],
  'must be a status code like 204 or a range like "200-299"',
)

export const HttpUrl = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.maxLength(2000, 'must be at most 2000 characters'),
  v.url('must be an absolute URL'),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http or https URL'),
)

const httpFields = {
  url: HttpUrl,
  method: v.optional(v.picklist(httpMethods, `must be one of ${httpMethods.join(', ')}`)),
  intervalSeconds: v.optional(int(10, 86_400, ' seconds')),
  timeoutMs: v.optional(int(100, 60_000, ' ms')),
  expectedStatus: v.optional(
    v.nullable(
      v.pipe(
        v.array(StatusSpec, 'must be a list of status codes or ranges'),
        v.minLength(1, 'must not be empty'),
        v.maxLength(20, 'at most 20 entries'),
      ),
    ),
  ),
  expectedBodyText: v.optional(
    v.nullable(v.pipe(v.string('must be a string'), v.maxLength(1000, 'must be at most 1000 characters'))),
  ),
}
export const HttpCheck = v.strictObject(httpFields)
const HttpPatch = v.strictObject({ ...httpFields, url: v.optional(HttpUrl) })

const pushFields = {
  expectedIntervalSeconds: int(10, 7 * 86_400, ' seconds'),
  graceSeconds: v.optional(int(0, 86_400, ' seconds')),
}
export const PushCheck = v.strictObject(pushFields)
const PushPatch = v.strictObject({
  ...pushFields,
  expectedIntervalSeconds: v.optional(pushFields.expectedIntervalSeconds),
})

const common = {
  name: Name,
  kind: v.picklist(componentKinds, `must be one of ${componentKinds.join(', ')}`),
  labels: v.optional(ComponentLabels),
  description: v.optional(v.pipe(v.string('must be a string'), v.maxLength(2000, 'must be at most 2000 characters'))),
}

export const ComponentBody = v.strictObject({ ...common, http: v.optional(HttpCheck), push: v.optional(PushCheck) })
export type ComponentInput = v.InferOutput<typeof ComponentBody>

export const ComponentPatch = v.strictObject({
  name: v.optional(common.name),
  kind: v.optional(common.kind),
  labels: common.labels,
  description: common.description,
  http: v.optional(HttpPatch),
  push: v.optional(PushPatch),
})
export type ComponentPatchInput = v.InferOutput<typeof ComponentPatch>

export const IdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100)) })
export const TokenParam = v.object({ token: v.string() })

export const ListQuery = v.object({ limit: LimitInput, cursor: CursorInput, kind: v.optional(common.kind) })

export const HistoryQuery = v.object({
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
  limit: LimitInput,
  cursor: v.optional(v.pipe(v.string(), v.regex(/^\d+:\d+$/, 'must be a cursor from a previous reply'))),
})

/** Uptime Kuma's push parameters. */
export const PushQuery = v.object({
  status: v.optional(v.picklist(['up', 'down'], 'must be up or down'), 'up'),
  msg: v.optional(v.pipe(v.string(), v.maxLength(1000, 'must be at most 1000 characters'))),
  ping: v.optional(
    v.union(
      [
        v.pipe(
          v.literal(''),
          v.transform(() => undefined),
        ),
        v.pipe(
          v.string(),
          v.trim(),
          v.decimal('must be a number of milliseconds'),
          v.transform(Number),
          v.minValue(0, 'must not be negative'),
          v.maxValue(86_400_000, 'is too large'),
        ),
      ],
      'must be a number of milliseconds',
    ),
  ),
})

const money = v.pipe(
  v.number('must be a number'),
  v.finite('must be a finite number'),
  v.minValue(0, 'must not be negative'),
  v.maxValue(1_000_000, 'must be at most 1000000'),
)
const priceFields = {
  model: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(200, 'must be at most 200 characters'),
  ),
  promptPer1M: money,
  completionPer1M: money,
  effectiveFrom: v.optional(TimeInput),
}
export const PriceBody = v.strictObject(priceFields)
export const PricePatch = v.partial(v.strictObject(priceFields))
export const PriceIdParam = IdParam

export const ranges = {
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
} as const
export const OverviewQuery = v.object({
  range: v.optional(
    v.pipe(Duration, v.minValue(5 * 60_000, 'must be at least 5m'), v.maxValue(90 * 86_400_000, 'must be at most 90d')),
  ),
})
