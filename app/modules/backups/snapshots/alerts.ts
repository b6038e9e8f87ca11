/**
 * The alerts a backup raises through the alerts service (as notify/dead.ts does for dead
 * notifications): `backup_failed` when a backup of a target fails or does not verify, `backup_missed`
 * when a target's last good backup is older than twice its interval. A later good backup resolves both.
 */
import type { AlertReport, AlertsService } from '../../alerts/index.ts'

export const BACKUP_FAILED = 'backup_failed'
export const BACKUP_MISSED = 'backup_missed'

export type BackupAlerts = Pick<AlertsService, 'reportMany' | 'labelsFingerprint'>

const report = (
  alerts: BackupAlerts,
  alertname: string,
  target: string,
  state: 'firing' | 'resolved',
  title: string,
  annotations: Record<string, string>,
): AlertReport => {
  const labels = { alertname, target }
  return {
    fingerprint: alerts.labelsFingerprint(labels, 'homeostat:'),
    source: 'homeostat',
    state,
    severity: 'error',
    title,
    labels,
    annotations,
    actor: 'backups',
    quietRepeat: true,
  }
}

export async function raiseBackupFailed(
  alerts: BackupAlerts,
  f: { target: string; backupId: string; error: string },
  at: number,
) {
  await alerts.reportMany(
    [
      report(alerts, BACKUP_FAILED, f.target, 'firing', `Backup of ${f.target} failed`, {
        summary: `Backup ${f.backupId} of ${f.target} failed: ${f.error}`,
        backup_id: f.backupId,
        error: f.error,
      }),
    ],
    at,
  )
}

export async function raiseBackupMissed(
  alerts: BackupAlerts,
  f: { target: string; lastGoodAt: number | null },
  at: number,
) {
  const since = f.lastGoodAt ? new Date(f.lastGoodAt).toISOString() : 'never'
  await alerts.reportMany(
    [
      report(alerts, BACKUP_MISSED, f.target, 'firing', `No recent good backup of ${f.target}`, {
        summary: `The last good backup of ${f.target} is older than twice its interval (last good: ${since})`,
      }),
    ],
    at,
  )
}

/** A good backup of the target ends both alerts (a resolve of an alert not open changes nothing). */
export async function resolveBackupAlerts(alerts: BackupAlerts, target: string, at: number) {
  await alerts.reportMany(
    [BACKUP_FAILED, BACKUP_MISSED].map((name) =>
      report(alerts, name, target, 'resolved', `Backup of ${target}`, { summary: 'A good backup was made' }),
    ),
    at,
  )
}
