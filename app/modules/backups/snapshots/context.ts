/** What the snapshot code is given by the backups service (built once in app/services.ts). */
import { join } from 'node:path'
import * as v from 'valibot'
import type { Db } from '../../../../db/client.ts'
import type { Backup, BackupTarget } from '../../../../db/schema/backups.ts'
import type { Config } from '../../../config.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { AppError } from '../../../lib/errors.ts'
import type { Logger } from '../../../lib/logger.ts'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import { localDestination } from '../destinations/local.ts'
import { S3DestinationConfig, s3Destination } from '../destinations/s3.ts'
import type { BackupDestination } from '../destinations/types.ts'
import type { BackupCommands } from '../sources/command.ts'
import { getTarget, openSecrets } from '../targets/store.ts'
import type { BackupAlerts } from './alerts.ts'
import type { BackupEncryption } from './encryption.ts'

export type SnapshotContext = {
  db: Db
  config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'BACKUP_DIR'>
  log: Logger
  alerts: BackupAlerts
  encryption: () => Promise<BackupEncryption>
  now: () => number
  /** Opens the secrets of targets (sealed with their row and field as AAD) for the stores. */
  sealer: Sealer
  /** The one outbound policy: Qdrant and S3 are user-configured URLs. */
  outbound: OutboundPolicy
  /** BACKUP_COMMANDS_FILE, read when it changes (null when unset). */
  commands: BackupCommands
}

export const backupDir = (config: SnapshotContext['config']) => config.BACKUP_DIR ?? join(config.DATA_DIR, 'backups')

/** Scratch files (snapshot copies, verification copies, drills) live in DATA_DIR, beside the database. */
export const scratchDir = (config: SnapshotContext['config']) => config.DATA_DIR

/** Where a target's bytes go: the local folder, or its S3 bucket with the secret key opened for this call only. */
export function destinationFor(
  ctx: SnapshotContext,
  t: Pick<BackupTarget, 'id' | 'destinationKind' | 'destinationConfig'>,
): BackupDestination {
  if (t.destinationKind === 'local') return localDestination(backupDir(ctx.config))
  const parsed = v.safeParse(S3DestinationConfig, openSecrets(ctx.sealer, t.id, t.destinationConfig))
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const field = issue.path?.map((p) => String(p.key)).join('.') ?? ''
    throw new AppError(
      409,
      'backup_target_invalid',
      `The target's S3 destination is incomplete: ${field} ${issue.message}`,
    )
  }
  return s3Destination({ outbound: ctx.outbound }, parsed.output)
}

/**
 * Where a stored backup is: its target's destination. A backup to S3 needs its target (which holds
 * the bucket and the sealed key) and the target must still point at the same kind of destination.
 */
export async function storedDestination(
  ctx: SnapshotContext,
  b: Pick<Backup, 'destinationKind' | 'targetId' | 'id'>,
): Promise<BackupDestination> {
  if (b.destinationKind === 'local') return localDestination(backupDir(ctx.config))
  const target = b.targetId ? await getTarget(ctx.db, b.targetId).catch(() => undefined) : undefined
  if (!target)
    throw new AppError(
      409,
      'backup_unreachable',
      `Backup ${b.id} is in S3, and its target (with the bucket) is deleted`,
    )
  if (target.destinationKind !== b.destinationKind)
    throw new AppError(
      409,
      'backup_unreachable',
      `Backup ${b.id} was stored in ${b.destinationKind}; its target now stores in ${target.destinationKind}`,
    )
  return destinationFor(ctx, target)
}
