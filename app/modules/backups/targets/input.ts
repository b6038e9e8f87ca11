/** Valibot schemas of backup targets: they validate the API and feed the OpenAPI document. */
import { Cron } from 'croner'
import * as v from 'valibot'
import { S3DestinationConfig } from '../destinations/s3.ts'
import { CommandTargetConfig } from '../sources/command.ts'
import { QdrantTargetConfig } from '../sources/qdrant.ts'

const Text = (max: number) => v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(max))

export const Schedule = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => {
    try {
      new Cron(s, { paused: true }).stop()
      return true
    } catch {
      return false
    }
  }, 'must be a cron pattern (five fields, or six with seconds), e.g. 0 3 * * *'),
)

const count = (max: number) => v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(0), v.maxValue(max))

export const Retention = v.strictObject({
  keepLast: v.optional(v.pipe(count(1000), v.minValue(1, 'must keep at least the last backup'))),
  daily: v.optional(count(366)),
  weekly: v.optional(count(520)),
  monthly: v.optional(count(1200)),
})

/**
 * What each kind of target is made from: the sources' own schemas (sources/qdrant.ts,
 * sources/command.ts, destinations/s3.ts), so what is saved is what runs. Secrets (`apiKey`,
 * `secretAccessKey`) are sealed at rest and masked in answers; in a change they may be left out
 * (kept) unless the URL or endpoint they are sent to changes, or `null` (removed).
 */
export const HomeostatConfig = v.strictObject({})
export const QdrantConfig = QdrantTargetConfig
/** A command target only names a command of BACKUP_COMMANDS_FILE: never argv, never arguments. */
export const CommandConfig = CommandTargetConfig

export const LocalDestination = v.strictObject({ kind: v.literal('local') })
export const S3Destination = v.strictObject({
  kind: v.literal('s3'),
  ...S3DestinationConfig.entries,
  secretAccessKey: v.nullish(S3DestinationConfig.entries.secretAccessKey),
})
export const Destination = v.variant('kind', [LocalDestination, S3Destination], 'must be local or s3')

const common = {
  name: v.pipe(Text(63), v.regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lower-case letters, digits, - and _')),
  destination: v.optional(Destination),
  schedule: v.optional(Schedule),
  retention: v.optional(Retention),
  enabled: v.optional(v.boolean()),
}

export const TargetBody = v.variant(
  'kind',
  [
    v.strictObject({ ...common, kind: v.literal('homeostat'), config: v.optional(HomeostatConfig) }),
    v.strictObject({ ...common, kind: v.literal('qdrant'), config: QdrantConfig }),
    v.strictObject({ ...common, kind: v.literal('command'), config: CommandConfig }),
  ],
  'must be homeostat, qdrant or command',
)
export type TargetInput = v.InferOutput<typeof TargetBody>

export const QdrantPatchConfig = v.strictObject({
  ...QdrantTargetConfig.entries,
  apiKey: v.nullish(v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(4096))),
})

/** A change: any of the fields; the kind cannot change (make a new target). `config` is given whole. */
export const TargetPatch = v.strictObject({
  name: v.optional(common.name),
  config: v.optional(v.union([HomeostatConfig, QdrantPatchConfig, CommandConfig], 'does not fit the target kind')),
  destination: v.optional(Destination),
  schedule: v.optional(Schedule),
  retention: v.optional(Retention),
  enabled: v.optional(v.boolean()),
})
export type TargetPatchInput = v.InferOutput<typeof TargetPatch>

export const TargetIdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100, 'must be at most 100 characters')) })
