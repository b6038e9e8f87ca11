/**
 * Inputs of the workflow history API. n8n workflow ids are unique per instance only, so every
 * route about one workflow takes the instance as the `instance` query parameter (its id, as in
 * GET /api/v1/healing/n8n-instances) beside the workflow id in the path.
 */
import * as v from 'valibot'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'

const Id = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(100, 'must be at most 100 characters'),
)
/** A version number as a path or query string. */
const SeqText = v.pipe(
  v.string('must be a version number'),
  v.regex(/^[1-9]\d{0,8}$/, 'must be a version number (1, 2, 3…)'),
  v.transform(Number),
)

export const InstanceQuery = v.strictObject({ instance: Id })
export const ListQuery = v.strictObject({ instance: v.optional(Id) })
export const VersionsQuery = v.strictObject({ instance: Id, limit: LimitInput, cursor: CursorInput })
export const DiffQuery = v.strictObject({ instance: Id, from: SeqText, to: SeqText })

export const WorkflowParam = v.object({ id: Id })
export const VersionParam = v.object({ id: Id, v: SeqText })
export const InstanceParam = v.object({ id: Id })

export const RollbackBody = v.strictObject({
  to: v.union(
    [v.pipe(v.number(), v.integer(), v.minValue(1)), v.literal('previous')],
    'must be a version number or "previous"',
  ),
  /** Create the workflow again when it was deleted in n8n (it gets a new id there). */
  recreate: v.optional(v.boolean('must be true or false')),
})

export const PullBody = v.strictObject({ instance: v.optional(Id) })
