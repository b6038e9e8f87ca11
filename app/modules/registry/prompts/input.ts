/** valibot schemas of the prompt registry's API: bodies, params and queries, each message naming what is wanted. */
import * as v from 'valibot'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { VARIABLE } from './template.ts'

export const PROMPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/
export const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/
const MAX_TEMPLATE = 100_000
const MAX_PARAMETERS_JSON = 20_000

export const PromptName = v.pipe(
  v.string('must be a string'),
  v.regex(PROMPT_NAME, 'must be 1–100 letters, digits, . _ -, starting with a letter or digit'),
)
export const Label = v.pipe(
  v.string('must be a string'),
  v.regex(LABEL, 'must be 1–50 letters, digits, . _ -, starting with a letter or digit (e.g. production)'),
)
const VersionNumber = v.pipe(
  v.number('must be a number'),
  v.integer('must be a whole number'),
  v.minValue(1, 'must be at least 1'),
  v.maxValue(999_999_999, 'must be at most 999999999'),
)
/** A version number in a path or query string. */
export const VersionText = v.pipe(
  v.string('must be a version number'),
  v.regex(/^[1-9]\d{0,8}$/, 'must be a version number (1, 2, …)'),
  v.transform(Number),
)
const Reason = v.pipe(v.string('must be a string'), v.maxLength(500, 'must be at most 500 characters'))

export const NameParam = v.object({ name: PromptName })
export const VersionParam = v.object({ name: PromptName, version: VersionText })
export const LabelParam = v.object({ name: PromptName, label: Label })

export const PromptBody = v.strictObject({
  name: PromptName,
  description: v.optional(v.pipe(v.string('must be a string'), v.maxLength(1000, 'must be at most 1000 characters'))),
})

export const VersionBody = v.strictObject({
  template: v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(MAX_TEMPLATE, `must be at most ${MAX_TEMPLATE} characters`),
  ),
  /** The `{{name}}` placeholders the template uses: exactly these, no more, no fewer. */
  variables: v.optional(
    v.pipe(
      v.array(
        v.pipe(v.string('must be a string'), v.regex(VARIABLE, 'must be a name of letters, digits and _')),
        'must be a list of variable names',
      ),
      v.maxLength(100, 'must list at most 100 variables'),
      v.check((a) => new Set(a).size === a.length, 'must not list a variable twice'),
    ),
    [],
  ),
  /** Model parameters (temperature, max_tokens, model, …): any JSON object, kept as given. */
  parameters: v.optional(
    v.pipe(
      // valibot's record takes an array as an object (and hands back a copy): refused first.
      v.custom<Record<string, unknown>>(
        (x) => !!x && typeof x === 'object' && !Array.isArray(x),
        'must be a JSON object',
      ),
      v.check(
        (p) => JSON.stringify(p).length <= MAX_PARAMETERS_JSON,
        `must be at most ${MAX_PARAMETERS_JSON} bytes of JSON`,
      ),
    ),
  ),
  note: v.optional(v.pipe(v.string('must be a string'), v.maxLength(1000, 'must be at most 1000 characters'))),
  /** Also point this label at the version (e.g. staging). */
  label: v.optional(Label),
})
export type VersionBodyInput = v.InferOutput<typeof VersionBody>

export const MoveBody = v.strictObject({ version: VersionNumber, reason: v.optional(Reason) })

export const RollbackBody = v.strictObject({
  label: v.optional(Label),
  /** A version number; absent: the highest version below the one the label points at. */
  to: v.optional(VersionNumber),
  reason: v.optional(Reason),
})

export const ListQuery = v.object({ limit: LimitInput, cursor: CursorInput })
export const VersionsQuery = v.object({
  limit: LimitInput,
  cursor: v.optional(VersionText),
})
export const DiffQuery = v.object({ from: VersionText, to: VersionText })

/**
 * The agents' read: `label` (default production) or `version`, and `var.<name>=<value>` for each
 * variable to compile the template with. Nothing else is accepted, so a typo is named, not ignored.
 */
export const ReadQuery = v.pipe(
  v.looseObject({
    label: v.optional(Label),
    version: v.optional(VersionText),
  }),
  v.check((q) => !(q.label !== undefined && q.version !== undefined), 'give label or version, not both'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return
    for (const [k, value] of Object.entries(dataset.value)) {
      if (k === 'label' || k === 'version') continue
      if (!k.startsWith('var.') || !VARIABLE.test(k.slice(4)))
        addIssue({ message: 'unknown parameter (use label, version or var.<name>)', path: pathOf(k, value) })
      else if (typeof value !== 'string') addIssue({ message: 'must be given once', path: pathOf(k, value) })
      else if (value.length > 10_000) addIssue({ message: 'must be at most 10000 characters', path: pathOf(k, value) })
    }
  }),
)

function pathOf(key: string, value: unknown): [v.ObjectPathItem] {
  return [{ type: 'object', origin: 'value', input: {}, key, value }]
}
