/** What the snapshot code is given by the backups service (built once in app/services.ts). */
import { join } from 'node:path'
import type { Db } from '../../../../db/client.ts'
import type { BackupTarget } from '../../../../db/schema/backups.ts'
import type { Config } from '../../../config.ts'
import type { Logger } from '../../../lib/logger.ts'
import { AppError } from '../../../lib/errors.ts'
import { localDestination } from '../destinations/local.ts'
import type { BackupDestination } from '../destinations/types.ts'
import type { BackupAlerts } from './alerts.ts'
import type { BackupEncryption } from './encryption.ts'

export type SnapshotContext = {
  db: Db
  config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'BACKUP_DIR'>
  log: Logger
  alerts: BackupAlerts
  encryption: () => Promise<BackupEncryption>
  now: () => number
}

export const backupDir = (config: SnapshotContext['config']) => config.BACKUP_DIR ?? join(config.DATA_DIR, 'backups')

/** Scratch files (snapshot copies, verification copies, drills) live in DATA_DIR, beside the database. */
export const scratchDir = (config: SnapshotContext['config']) => config.DATA_DIR

/** Where a target's bytes go. S3 arrives with the guarded stores (destinations/s3.ts). */
export function destinationFor(ctx: SnapshotContext, t: Pick<BackupTarget, 'destinationKind'>): BackupDestination {
  if (t.destinationKind === 'local') return localDestination(backupDir(ctx.config))
  throw new AppError(501, 'not_implemented', `The ${t.destinationKind} destination is not available in this version`)
}
