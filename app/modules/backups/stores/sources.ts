/**
 * The source of a guarded store's target: its config read from the row, secrets opened with the
 * AAD they were sealed with (targets/store.ts), and checked against the source's own schema.
 */
import * as v from 'valibot'
import type { BackupTarget, StoreManifest } from '../../../../db/schema/backups.ts'
import { AppError } from '../../../lib/errors.ts'
import { redactUrl } from '../../../lib/outbound.ts'
import { CommandTargetConfig, commandSource } from '../sources/command.ts'
import { QdrantTargetConfig, qdrantSource } from '../sources/qdrant.ts'
import type { BackupSource } from '../sources/types.ts'
import { openSecrets } from '../targets/store.ts'
import type { SnapshotContext } from '../snapshots/context.ts'

export type StoreTarget = BackupTarget & { kind: 'qdrant' | 'command' }

export const isStoreTarget = (t: BackupTarget): t is StoreTarget => t.kind === 'qdrant' || t.kind === 'command'

function parsed<S extends v.GenericSchema>(schema: S, target: BackupTarget, config: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, config)
  if (result.success) return result.output
  const issue = result.issues[0]
  const field = issue.path?.map((p) => String(p.key)).join('.') ?? ''
  throw new AppError(
    409,
    'backup_target_invalid',
    `Target ${target.name} has an invalid ${target.kind} config: config.${field} ${issue.message}`,
  )
}

/** The source that makes (and restores) a store target's bytes, and what its manifest says of it. */
export function storeSource(
  ctx: SnapshotContext,
  target: StoreTarget,
): { source: BackupSource; details: StoreManifest['source'] } {
  if (target.kind === 'qdrant') {
    const config = parsed(QdrantTargetConfig, target, openSecrets(ctx.sealer, target.id, target.config))
    return {
      source: qdrantSource({ outbound: ctx.outbound }, config),
      details: { url: redactUrl(config.url), collection: config.collection },
    }
  }
  const config = parsed(CommandTargetConfig, target, target.config)
  return { source: commandSource(ctx.commands, config), details: { command: config.command } }
}

/** The key of a store backup: `<target>/<id>.snapshot` (Qdrant) or `.out` (a command), `.age` when encrypted. */
export const storeLocation = (target: StoreTarget, id: string, encrypted: boolean) =>
  `${target.name}/${id}.${target.kind === 'qdrant' ? 'snapshot' : 'out'}${encrypted ? '.age' : ''}`
