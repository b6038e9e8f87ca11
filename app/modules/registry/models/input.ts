/** Valibot schemas of models, versions, deploys, rollbacks and aliases: they validate the API and feed the OpenAPI document. */
import * as v from 'valibot'
import type { modelVersionStatuses } from '../../../../db/schema/registry.ts'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { TimeInput } from '../../../lib/time.ts'

/** A model id is also the name its versions get on Ollama hosts (`<id>:<version>`), so it follows Ollama's name rules. */
export const MODEL_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/
export const ModelId = v.pipe(
  v.string('must be a string'),
  v.regex(MODEL_ID, 'must be 1–63 lower-case letters, digits, . _ -, starting with a letter or digit'),
)

/** Semantic Versioning 2.0.0 (semver.org), the regular expression it suggests. */
export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/
export const Semver = v.pipe(
  v.string('must be a string'),
  v.maxLength(100, 'must be at most 100 characters'),
  v.regex(SEMVER, 'must be a semantic version such as 1.2.0 or 2.0.0-rc.1'),
)

export const ALIAS = /^[a-z0-9][a-z0-9._-]{0,62}$/
export const AliasName = v.pipe(
  v.string('must be a string'),
  v.regex(ALIAS, 'must be 1–63 lower-case letters, digits, . _ -, such as production or canary'),
)

const Text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const Name = v.pipe(Text(200), v.trim(), v.minLength(1, 'must not be empty'))
const BaseModel = v.pipe(
  v.string('must be a string'),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/, 'must be a model name such as qwen2.5:7b'),
)
const Tags = v.pipe(
  v.array(
    v.pipe(v.string('must be a string'), v.regex(/^[\w.:-]{1,50}$/, 'must be 1–50 letters, digits, . _ : -')),
    'must be a list of tags',
  ),
  v.maxLength(50, 'must hold at most 50 tags'),
)

export const ModelBody = v.strictObject({
  id: ModelId,
  name: v.optional(Name),
  description: v.optional(Text(2000)),
  baseModel: BaseModel,
  tags: v.optional(Tags),
  notes: v.optional(Text(10_000)),
})
export const ModelPatch = v.strictObject({
  name: v.optional(Name),
  description: v.optional(Text(2000)),
  baseModel: v.optional(BaseModel),
  tags: v.optional(Tags),
  notes: v.optional(Text(10_000)),
})

export const Modelfile = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(256 * 1024, 'must be at most 256 KiB'),
)
export const ValidateBody = v.strictObject({ modelfile: Modelfile })

const Training = v.strictObject({
  source: v.optional(Text(500)),
  datasetId: v.optional(Text(200)),
  recordCount: v.optional(v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(0))),
  trainedAt: v.optional(TimeInput),
  config: v.optional(v.record(v.string(), v.unknown(), 'must be a JSON object')),
})

/** Statuses a version may be created with, or moved to by a person (`deployed` follows deploys, `archived` has its own route). */
const settable = [
  'training',
  'ready',
  'deprecated',
  'failed',
] as const satisfies readonly (typeof modelVersionStatuses)[number][]

export const VersionBody = v.strictObject({
  version: Semver,
  previousVersion: v.optional(v.nullable(Semver)),
  modelfile: Modelfile,
  training: v.optional(Training),
  status: v.optional(v.picklist(['training', 'ready'], 'must be training or ready')),
})

export const StatusBody = v.strictObject({
  status: v.picklist([...settable, 'archived'], `must be one of ${[...settable, 'archived'].join(', ')}`),
  /** With `archived`: also delete the version's tag from every host that has it (`/api/delete`). */
  deleteFromHosts: v.optional(v.boolean('must be true or false')),
})

export const HostRef = v.pipe(v.string('must be a string'), v.minLength(1, 'must name a host'), v.maxLength(100))
export const DeployBody = v.strictObject({ host: HostRef })
export const RollbackBody = v.strictObject({
  host: HostRef,
  /** The version to make live; the one live before the current one when left out. */
  version: v.optional(Semver),
})
export const AliasBody = v.strictObject({
  version: Semver,
  reason: v.optional(Text(500)),
})

export const ModelParam = v.object({ id: ModelId })
export const VersionParam = v.object({ id: ModelId, version: Semver })
export const AliasParam = v.object({ id: ModelId, alias: AliasName })
export const DeploymentParam = v.object({ deployment: v.pipe(v.string(), v.maxLength(100)) })
export const ListQuery = v.object({ limit: LimitInput, cursor: CursorInput })

export type ModelInput = v.InferOutput<typeof ModelBody>
export type ModelChange = v.InferOutput<typeof ModelPatch>
export type VersionInput = v.InferOutput<typeof VersionBody>
