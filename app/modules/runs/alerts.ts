/**
 * The alerts the runs module raises through the alerts service (source `runs`), so notification
 * policies, silences and healing triggers select them by label like any other alert:
 *
 * - `run_escalated` {run}: a run waits for a person (resolved when the person chooses).
 * - `run_task_stuck` {run, task, role}: a task ran past its deadline (resolved when it moves on).
 * - `run_stalled` {run}: no progress for the policy's minutes (resolved by the next progress).
 * - `run_over_budget` {run}: the run's cost or time is over its budget (resolved when it ends).
 */
import type { AlertReport, AlertsService } from '../alerts/index.ts'

export const RUN_ESCALATED = 'run_escalated'
export const RUN_TASK_STUCK = 'run_task_stuck'
export const RUN_STALLED = 'run_stalled'
export const RUN_OVER_BUDGET = 'run_over_budget'

type Fingerprint = AlertsService['labelsFingerprint']

export function runAlert(
  fp: Fingerprint,
  labels: Record<string, string> & { alertname: string; run: string },
  firing: boolean,
  title: string,
  annotations: Record<string, string> = {},
): AlertReport {
  return {
    fingerprint: fp(labels, 'homeostat:'),
    source: 'runs',
    state: firing ? 'firing' : 'resolved',
    severity: labels.alertname === RUN_ESCALATED || labels.alertname === RUN_OVER_BUDGET ? 'error' : 'warning',
    title,
    labels,
    annotations,
    actor: 'runs',
  }
}
