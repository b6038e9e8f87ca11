/**
 * The validate endpoint's body: one n8n workflow (an object with `nodes`), `{workflows: […]}`, or
 * `{instance: name}` to read an instance's workflows through its API. Each workflow's own shape is
 * not checked here: a malformed workflow is a finding of rule `shape` in the report, not a 400.
 */
import * as v from 'valibot'

/** Workflows in one request; the body limit (BODY_LIMIT_BYTES) usually bites first. */
export const MAX_WORKFLOWS = 1000

const Short = (max: number) =>
  v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `at most ${max} characters`),
  )

const CredentialRef = v.looseObject({
  id: v.optional(Short(100)),
  name: v.optional(Short(200)),
  type: v.optional(Short(200)),
})

/** `{workflows}` or `{instance}`, with the options; strict, so a misspelt option is named. */
const Envelope = v.pipe(
  v.strictObject({
    instance: v.optional(Short(100)),
    workflows: v.optional(
      v.pipe(
        v.array(v.unknown(), 'must be a list of workflows'),
        v.minLength(1, 'must hold at least one workflow'),
        v.maxLength(MAX_WORKFLOWS, `at most ${MAX_WORKFLOWS} workflows per request`),
      ),
    ),
    /** The instance's credentials when known (n8n's public API cannot list them): `[{id, name, type}]`. */
    credentials: v.optional(v.pipe(v.array(CredentialRef, 'must be a list of {id, name, type}'), v.maxLength(10_000))),
    /** Warnings fail too (`ok: false`), as `--strict` on the command line. */
    strict: v.optional(v.boolean('must be true or false')),
  }),
  v.forward(
    v.check(
      (b) => b.instance !== undefined || b.workflows !== undefined,
      'send one workflow (an object with nodes), {"workflows": […]} or {"instance": "name"}',
    ),
    ['workflows'],
  ),
  v.forward(
    v.check((b) => !(b.instance !== undefined && b.workflows !== undefined), 'send either an instance or workflows'),
    ['instance'],
  ),
)

/** One workflow as n8n exports it: any fields (n8n adds some between versions); its shape is the `shape` rule's. */
const OneWorkflow = v.looseObject({ nodes: v.array(v.unknown(), 'must be a list of nodes') })

const isWorkflow = (input: unknown) => typeof input === 'object' && input !== null && 'nodes' in input

/** A body with `nodes` is one workflow; anything else must be the envelope (each branch names its bad fields). */
export const ValidateBody = v.lazy((input) => (isWorkflow(input) ? OneWorkflow : Envelope))
export type ValidateInput = v.InferOutput<typeof Envelope> | v.InferOutput<typeof OneWorkflow>
