/**
 * Inputs of the runs API (docs/runs.md). Ids are the client's own (an orchestrator's run id, its
 * task ids), so a retried write names the same row. Times are RFC 3339 or epoch ms.
 */
import * as v from 'valibot'
import { decisionActions, humanChoices, runFailureClasses, runStatuses, taskStatuses } from '../../../db/schema/runs.ts'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { regexProblem } from '../../lib/safe-regex.ts'
import { TimeInput } from '../../lib/time.ts'
import { Labels } from '../metrics/index.ts'

/** Inline artifacts are for small JSON (a prompt's inputs, a test summary); larger ones go in `links`. */
export const ARTIFACT_MAX_BYTES = 16_384
/** Tasks in one batch: a 1,000-task run fits in one request. */
export const BATCH_MAX = 1000

const ID_PATTERN = /^[\w.:@~-]{1,200}$/
export const Id = v.pipe(
  v.string('must be a string'),
  v.regex(ID_PATTERN, 'must be 1-200 characters of letters, digits and _ . : @ ~ -'),
)
const Text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const Role = v.pipe(
  v.string('must be a string'),
  v.regex(/^[\w.-]{1,100}$/, 'must be 1-100 characters of letters, digits and _ . -'),
)
const Count = v.pipe(
  v.number('must be a number'),
  v.integer('must be a whole number'),
  v.minValue(0, 'must not be negative'),
  v.maxValue(1e12, 'must be at most 1e12'),
)
const Usd = v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'), v.maxValue(1e6))
const Class = v.picklist(runFailureClasses, `must be one of ${runFailureClasses.join(', ')}`)
const RunStatus = v.picklist(runStatuses, `must be one of ${runStatuses.join(', ')}`)
const TaskStatus = v.picklist(taskStatuses, `must be one of ${taskStatuses.join(', ')}`)

const byteLength = (value: unknown) => new TextEncoder().encode(JSON.stringify(value) ?? '').length
/** Any JSON value up to the cap; the message says how big it was and where large ones go. */
const Artifact = v.pipe(
  v.unknown(),
  v.check(
    (value) => byteLength(value) <= ARTIFACT_MAX_BYTES,
    (issue) =>
      `is ${byteLength(issue.input)} bytes of JSON; at most ${ARTIFACT_MAX_BYTES} inline (put large artifacts in links)`,
  ),
)
const Link = v.strictObject({
  name: Text(200),
  url: v.pipe(v.string('must be a string'), v.maxLength(2000), v.url('must be a URL')),
  size: v.optional(Count),
  type: v.optional(Text(100)),
})

const Positive = (max: number) =>
  v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(1), v.maxValue(max))

export const PolicyRouteInput = v.pipe(
  v.strictObject({
    action: v.picklist(decisionActions, `must be one of ${decisionActions.join(', ')}`),
    role: v.optional(Role),
    delayMs: v.optional(v.pipe(Count, v.maxValue(86_400_000, 'must be at most a day'))),
  }),
  v.forward(
    v.check((r) => r.action !== 'branch' || Boolean(r.role), 'a branch route needs the role to branch to'),
    ['role'],
  ),
)

/** A policy as stored and as given (per run, per label, default): every field optional. */
export const PolicyInput = v.strictObject({
  maxAttempts: v.optional(Positive(100)),
  maxDepth: v.optional(v.pipe(Count, v.maxValue(20, 'must be at most 20'))),
  budgetCostUsd: v.optional(Usd),
  budgetDurationMs: v.optional(Positive(30 * 86_400_000)),
  stuckFactor: v.optional(v.pipe(v.number('must be a number'), v.minValue(1), v.maxValue(100))),
  stalledMinutes: v.optional(Positive(10_080)),
  routes: v.optional(
    v.pipe(
      v.record(v.string(), PolicyRouteInput, 'must be an object of routes by failure class'),
      v.check(
        (r) => Object.keys(r).every((k) => (runFailureClasses as readonly string[]).includes(k)),
        `route keys must be failure classes: ${runFailureClasses.join(', ')}`,
      ),
    ),
  ),
})

const runFields = {
  goal: v.optional(v.nullable(Text(2000))),
  requester: v.optional(v.nullable(Text(200))),
  labels: v.optional(Labels),
  status: v.optional(RunStatus),
  startedAt: v.optional(TimeInput),
  endedAt: v.optional(v.nullable(TimeInput)),
  policy: v.optional(v.nullable(PolicyInput)),
}
/** `PUT /api/v1/runs/:id`: every field optional, a repeated or late write merges (docs/runs.md). */
export const RunBody = v.strictObject(runFields)
/** `POST /api/v1/runs` and a batch's runs: the same with the id in the body. */
export const RunWithId = v.strictObject({ id: Id, ...runFields })

const taskFields = {
  role: v.optional(Role),
  title: v.optional(v.nullable(Text(500))),
  parentId: v.optional(v.nullable(Id)),
  dependsOn: v.optional(v.pipe(v.array(Id, 'must be a list of task ids'), v.maxLength(200, 'at most 200'))),
  branchOf: v.optional(v.nullable(Id)),
  depth: v.optional(v.pipe(Count, v.maxValue(100))),
  attempt: v.optional(Positive(1000)),
  status: v.optional(TaskStatus),
  startedAt: v.optional(TimeInput),
  endedAt: v.optional(TimeInput),
  deadlineAt: v.optional(v.nullable(TimeInput)),
  model: v.optional(v.nullable(Text(200))),
  inputTokens: v.optional(Count),
  outputTokens: v.optional(Count),
  costUsd: v.optional(Usd),
  error: v.optional(v.nullable(Text(20_000))),
  failureClass: v.optional(v.nullable(Class)),
  input: v.optional(Artifact),
  output: v.optional(Artifact),
  links: v.optional(v.pipe(v.array(Link, 'must be a list of links'), v.maxLength(50, 'at most 50 links'))),
}
/** `PUT /api/v1/runs/:id/tasks/:task`. */
export const TaskBody = v.strictObject(taskFields)
/** A task in `POST /api/v1/runs/:id/tasks` (id in the body). */
export const TaskWithId = v.strictObject({ id: Id, ...taskFields })
/** A task in `POST /api/v1/runs/batch` (run and task ids in the body). */
export const TaskWithRun = v.strictObject({ runId: Id, id: Id, ...taskFields })

export const TaskBatchBody = v.strictObject({
  tasks: v.pipe(
    v.array(TaskWithId, 'must be a list of tasks'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(BATCH_MAX, `at most ${BATCH_MAX} tasks`),
  ),
})
export const BatchBody = v.pipe(
  v.strictObject({
    runs: v.optional(v.pipe(v.array(RunWithId, 'must be a list of runs'), v.maxLength(BATCH_MAX))),
    tasks: v.optional(v.pipe(v.array(TaskWithRun, 'must be a list of tasks'), v.maxLength(BATCH_MAX))),
  }),
  v.check((b) => Boolean(b.runs?.length || b.tasks?.length), 'give runs or tasks'),
)

export type RunInput = v.InferOutput<typeof RunBody>
export type TaskInput = v.InferOutput<typeof TaskBody>
export type PolicyValue = v.InferOutput<typeof PolicyInput>

/** `POST …/tasks/:task/failed`: the failure report. `attempt` defaults to the task's current one. */
export const FailureBody = v.strictObject({
  error: Text(20_000),
  attempt: v.optional(Positive(1000)),
  /** Attributes the classifier reads (e.g. http.status_code, exit_code, error.type, tool name). */
  attributes: v.optional(
    v.pipe(
      v.record(v.string(), v.union([v.string(), v.number(), v.boolean()]), 'must be an object of scalars'),
      v.check((a) => Object.keys(a).length <= 64, 'at most 64 attributes'),
    ),
  ),
  class: v.optional(Class),
  endedAt: v.optional(TimeInput),
  inputTokens: v.optional(Count),
  outputTokens: v.optional(Count),
  costUsd: v.optional(Usd),
  model: v.optional(Text(200)),
})
export type FailureInput = v.InferOutput<typeof FailureBody>

/** A person's choice for an escalated run. */
export const ChoiceBody = v.strictObject({
  action: v.picklist(humanChoices, `must be one of ${humanChoices.join(', ')}`),
  note: v.optional(Text(2000)),
})

const Pattern = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(500, 'must be at most 500 characters'),
  v.check(
    (s) => regexProblem(s, { anchored: false }) === undefined,
    (issue) => regexProblem(String(issue.input), { anchored: false }) ?? 'must be a valid RE2 regular expression',
  ),
)
const ruleFields = {
  name: v.pipe(Text(200), v.minLength(1, 'must not be empty')),
  pattern: v.optional(v.nullable(Pattern)),
  role: v.optional(v.nullable(Role)),
  attribute: v.optional(v.nullable(Text(200))),
  attributeValue: v.optional(v.nullable(Text(500))),
  class: Class,
  position: v.optional(v.pipe(Count, v.maxValue(1e6))),
  enabled: v.optional(v.boolean('must be true or false')),
}
const hasCondition = (r: { pattern?: string | null; attribute?: string | null }) => Boolean(r.pattern || r.attribute)
const ClassRuleObject = v.strictObject(ruleFields)
export const ClassRuleBody = v.pipe(
  ClassRuleObject,
  v.forward(v.check<v.InferOutput<typeof ClassRuleObject>, string>(hasCondition, 'give a pattern or an attribute'), [
    'pattern',
  ]),
)
export type ClassRuleInput = v.InferOutput<typeof ClassRuleBody>

const LabelFilter = v.pipe(
  v.string('must be a string'),
  v.regex(/^[a-zA-Z_][a-zA-Z0-9_]*[:=].{0,1024}$/, 'must be name:value (or name=value)'),
  v.transform((s) => {
    const at = s.search(/[:=]/)
    return { name: s.slice(0, at), value: s.slice(at + 1) }
  }),
)
export const ListQuery = v.strictObject({
  status: v.optional(RunStatus),
  label: v.optional(LabelFilter),
  role: v.optional(Role),
  class: v.optional(Class),
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
  limit: LimitInput,
  cursor: v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}:[\w.:@~-]{1,200}$/, 'must be a `next` cursor'))),
})
export type ListFilter = v.InferOutput<typeof ListQuery>
export { CursorInput, LabelFilter }

export const RunParam = v.object({ id: Id })
export const TaskParam = v.object({ id: Id, task: Id })
export const PolicyScope = v.object({
  scope: v.pipe(
    v.string(),
    v.regex(/^(default|label:[a-zA-Z_][a-zA-Z0-9_]*=.{0,1024})$/, 'must be default or label:<name>=<value>'),
  ),
})

const LabelName = v.pipe(v.string(), v.regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name'))
export const ReportQuery = v.strictObject({
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
  label: v.optional(LabelFilter),
  by: v.optional(LabelName),
})

/** One side of a comparison: a label (`team:multi`) or a period (`<from>..<to>`, RFC 3339 or ms). */
const Side = v.pipe(
  v.string('must be a string'),
  v.maxLength(1100),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const s = dataset.value
    const dots = s.indexOf('..')
    if (dots > 0) {
      const from = v.safeParse(TimeInput, s.slice(0, dots))
      const to = v.safeParse(TimeInput, s.slice(dots + 2))
      if (from.success && to.success && from.output < to.output)
        return { kind: 'period' as const, from: from.output, to: to.output }
    } else {
      const label = v.safeParse(LabelFilter, s)
      if (label.success) return { kind: 'label' as const, label: label.output }
    }
    addIssue({ message: 'must be a label (name:value) or a period (<from>..<to>, from before to)' })
    return NEVER
  }),
)
export const CompareQuery = v.strictObject({
  a: Side,
  b: Side,
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
})
