import * as v from 'valibot'
import { DurationBetween } from '../../metrics/index.ts'

const DAY = 86_400_000
/** The longest range a comparison reads: raw points (the rank test) are kept 7 days by default. */
export const MAX_RANGE_MS = 90 * DAY
export const DEFAULT_RANGE = '24h'

/** A model id as agents put it in the `model` label (what model routes call a model). */
export const ModelId = v.object({
  id: v.pipe(
    v.string('must be a string'),
    v.regex(
      /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,89}$/,
      'must be 1–90 letters, digits, . _ : @ + -, starting with a letter or digit (the model label)',
    ),
  ),
})

const Version = v.pipe(
  v.string('is required: a value of the version label, such as 1.4.0'),
  v.trim(),
  v.minLength(1, 'is required: a value of the version label, such as 1.4.0'),
  v.maxLength(200, 'must be at most 200 characters'),
)

/** `?a=&b=&range=`: two versions (both required, different) and a range like 1h, 24h or 7d. */
export const CompareInput = v.pipe(
  v.object({
    a: Version,
    b: Version,
    range: v.optional(DurationBetween(60_000, MAX_RANGE_MS, '1h, 24h, 7d'), DEFAULT_RANGE),
  }),
  v.forward(
    v.check((q) => q.a !== q.b, 'must differ from a'),
    ['b'],
  ),
)
export type CompareInput = v.InferOutput<typeof CompareInput>
