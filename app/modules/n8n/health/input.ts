/**
 * Inputs of the workflow health API. n8n workflow ids are unique per instance only, so a route
 * about one workflow takes the instance id as `?instance=` beside the workflow id in the path (as
 * the workflow history routes do).
 */
import * as v from 'valibot'
import { failureClasses, workflowStates } from '../../../../db/schema/n8n.ts'
import { regexProblem } from '../../../lib/safe-regex.ts'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { DurationBetween } from '../../metrics/index.ts'

const DAY = 86_400_000
const Id = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(100, 'must be at most 100 characters'),
)
const State = v.picklist(workflowStates, `must be one of ${workflowStates.join(', ')}`)
const Class = v.picklist(failureClasses, `must be one of ${failureClasses.join(', ')}`)
const Status = v.picklist(
  ['success', 'error', 'crashed', 'waiting', 'canceled', 'running', 'new'],
  'must be one of success, error, crashed, waiting, canceled, running, new',
)

export const InstanceQuery = v.strictObject({ instance: Id })
export const WorkflowParam = v.object({ id: Id })
export const RuleParam = v.object({ id: Id })
export const WorkflowsQuery = v.strictObject({
  instance: v.optional(Id),
  state: v.optional(State),
  limit: LimitInput,
  cursor: CursorInput,
})
export const ExecutionsQuery = v.strictObject({
  instance: Id,
  status: v.optional(Status),
  class: v.optional(Class),
  limit: LimitInput,
  cursor: v.optional(v.pipe(v.string(), v.regex(/^\d{1,18}$/, 'must be an execution id from `next`'))),
})
export const PollBody = v.strictObject({ instance: v.optional(Id) })

/** "Expect at least one execution every N" for a workflow no schedule drives (webhooks, other triggers). */
export const ExpectationBody = v.strictObject({ every: DurationBetween(60_000, 90 * DAY, '15m, 1h, 1d') })

const Pattern = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(500, 'must be at most 500 characters'),
  v.check(
    (s) => regexProblem(s) === undefined,
    (issue) => regexProblem(String(issue.input)) ?? 'must be a valid RE2 regular expression',
  ),
)
const NodeType = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200))
const HttpStatus = v.pipe(
  v.number('must be a number'),
  v.integer('must be a whole number'),
  v.minValue(100, 'must be at least 100'),
  v.maxValue(599, 'must be at most 599'),
)
const Position = v.pipe(
  v.number('must be a number'),
  v.integer('must be a whole number'),
  v.minValue(0),
  v.maxValue(1e6),
)
const Name = v.pipe(v.string('must be a string'), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200))

const ruleFields = {
  name: Name,
  pattern: v.optional(v.nullable(Pattern)),
  nodeType: v.optional(v.nullable(NodeType)),
  httpStatus: v.optional(v.nullable(HttpStatus)),
  class: Class,
  position: v.optional(Position),
  enabled: v.optional(v.boolean('must be true or false')),
}

/** A rule needs at least one condition: one matching every failure would hide every other class. */
const hasCondition = (r: { pattern?: string | null; nodeType?: string | null; httpStatus?: number | null }) =>
  Boolean(r.pattern || r.nodeType || (r.httpStatus !== undefined && r.httpStatus !== null))

const RuleObject = v.strictObject(ruleFields)
type RuleOut = v.InferOutput<typeof RuleObject>
export const RuleBody = v.pipe(
  RuleObject,
  v.forward(v.check<RuleOut, string>(hasCondition, 'give at least one of pattern, nodeType, httpStatus'), ['pattern']),
)
export const RulePatch = v.pipe(
  v.strictObject({
    name: v.optional(Name),
    pattern: ruleFields.pattern,
    nodeType: ruleFields.nodeType,
    httpStatus: ruleFields.httpStatus,
    class: v.optional(Class),
    position: ruleFields.position,
    enabled: ruleFields.enabled,
  }),
  v.check((r) => Object.keys(r).length > 0, 'give at least one field to change'),
)
export type RuleInput = v.InferOutput<typeof RuleBody>
export type RulePatchInput = v.InferOutput<typeof RulePatch>
