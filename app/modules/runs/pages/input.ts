/**
 * The runs pages' inputs. Filter forms send every field, empty ones as "": an empty field means
 * "no filter", the rest are checked by the API's own schemas (../input.ts), so a bad value is a 400
 * naming the field on the page as in the API.
 */
import * as v from 'valibot'
import { humanChoices } from '../../../../db/schema/runs.ts'
import { ChoiceBody, ListQuery, ReportQuery } from '../input.ts'

/** "" is no value; anything else goes through `schema`. */
// biome-ignore lint/suspicious/noExplicitAny: the inner schema takes what the form sent, whatever it declares
const blank = <S extends v.BaseSchema<any, unknown, v.BaseIssue<unknown>>>(schema: S) =>
  v.pipe(
    v.optional(v.string()),
    v.transform((s) => (s === '' ? undefined : s)),
    schema,
  )

export const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const
const Range = v.picklist(
  Object.keys(RANGES) as (keyof typeof RANGES)[],
  `must be one of ${Object.keys(RANGES).join(', ')}`,
)

const e = ListQuery.entries
export const ListPageQuery = v.strictObject({
  status: blank(e.status),
  label: blank(e.label),
  role: blank(e.role),
  class: blank(e.class),
  range: blank(v.optional(Range)),
  from: blank(e.from),
  to: blank(e.to),
  limit: blank(e.limit),
  cursor: blank(e.cursor),
})
export type ListPageFilter = v.InferOutput<typeof ListPageQuery>

/** `?task=` opens one task's detail on the run page; `?all=1` lists every task. */
export const RunPageQuery = v.strictObject({
  task: blank(v.optional(v.pipe(v.string(), v.maxLength(200)))),
  all: blank(v.optional(v.picklist(['1'], 'must be 1'))),
})

/** The queue's buttons post a form: the same choice as `POST /api/v1/runs/:id/decision`. */
export const ChoiceForm = v.strictObject({
  action: v.picklist(humanChoices, `must be one of ${humanChoices.join(', ')}`),
  note: blank(ChoiceBody.entries.note),
})

/**
 * Reports: a period (range, or from/to) and optional label; `compare` picks what the comparison
 * sets side by side: the period before this one, or two labels (`a` and `b`, name:value).
 */
export const ReportsQuery = v.strictObject({
  range: blank(v.optional(Range)),
  from: blank(e.from),
  to: blank(e.to),
  label: blank(e.label),
  by: blank(ReportQuery.entries.by),
  a: blank(e.label),
  b: blank(e.label),
})
export type ReportsFilter = v.InferOutput<typeof ReportsQuery>
