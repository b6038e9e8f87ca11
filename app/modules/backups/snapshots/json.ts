/** API shapes of backups and restores: times as RFC 3339. */
import type { Backup, BackupRestore } from '../../../../db/schema/backups.ts'
import { toIso } from '../../../lib/time.ts'

export const backupJson = (b: Backup) => ({
  id: b.id,
  targetId: b.targetId,
  target: b.targetName,
  kind: b.kind,
  status: b.status,
  trigger: b.trigger,
  destination: b.destinationKind,
  location: b.location,
  size: b.size,
  sha256: b.sha256,
  encryption: b.encryption,
  error: b.error,
  createdBy: b.createdBy,
  startedAt: toIso(b.startedAt),
  finishedAt: toIso(b.finishedAt),
  durationMs: b.durationMs,
  verifiedAt: toIso(b.verifiedAt),
  verifyMs: b.verifyMs,
})

export const restoreJson = (r: BackupRestore) => ({
  id: r.id,
  backupId: r.backupId,
  kind: r.kind,
  status: r.status,
  requestedBy: r.requestedByName,
  approvedBy: r.approvedByName,
  reason: r.reason,
  error: r.error,
  createdAt: toIso(r.createdAt),
  expiresAt: toIso(r.expiresAt),
  startedAt: toIso(r.startedAt),
  finishedAt: toIso(r.finishedAt),
  durationMs: r.durationMs,
  keptAs: r.keptAs,
})
