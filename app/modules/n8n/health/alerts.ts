/**
 * The alerts workflow health raises through the alerts service (source `n8n`), so notification
 * policies, silences and healing triggers select them by label like any other alert:
 *
 * - `n8n_execution_failed` {instance, workflow, workflow_id, class, node}: a workflow's latest
 *   execution failed; one alert per class and node, all resolved by the workflow's next success.
 *   "Page a person for credentials" is a policy matching `class="credentials"`; "retry rate_limit"
 *   a healing rule with trigger {type: alert, matchers: [class="rate_limit"]}.
 * - `n8n_schedule_missed` {instance, workflow, workflow_id}: an expected run did not happen.
 * - `n8n_workflow_deactivated` {instance, workflow, workflow_id}: it was active and is not now.
 * - `n8n_instance_unreachable` {instance}: the last poll could not read the instance.
 */
import type { FailureClass } from '../../../../db/schema/n8n.ts'
import type { AlertReport, AlertsService } from '../../alerts/index.ts'

export const EXECUTION_FAILED = 'n8n_execution_failed'
export const SCHEDULE_MISSED = 'n8n_schedule_missed'
export const WORKFLOW_DEACTIVATED = 'n8n_workflow_deactivated'
export const INSTANCE_UNREACHABLE = 'n8n_instance_unreachable'

/** Credentials do not fix themselves: a person must act. Transient classes are errors a retry may fix. */
const severityOf = (cls: string) => (cls === 'credentials' ? 'critical' : 'error')

type Fingerprint = AlertsService['labelsFingerprint']
type Wf = { instance: string; workflowId: string; name: string }

export const failureLabels = (w: Wf, cls: FailureClass, node: string | null) => ({
  alertname: EXECUTION_FAILED,
  instance: w.instance,
  workflow: w.name,
  workflow_id: w.workflowId,
  class: cls,
  node: node ?? '',
})

const workflowLabels = (alertname: string, w: Wf) => ({
  alertname,
  instance: w.instance,
  workflow: w.name,
  workflow_id: w.workflowId,
})

function report(
  fp: Fingerprint,
  labels: Record<string, string>,
  firing: boolean,
  title: string,
  annotations: Record<string, string> = {},
): AlertReport {
  return {
    fingerprint: fp(labels, 'homeostat:'),
    source: 'n8n',
    state: firing ? 'firing' : 'resolved',
    severity: labels.alertname === EXECUTION_FAILED ? severityOf(labels.class ?? '') : 'error',
    title,
    labels,
    annotations,
    actor: 'n8n',
  }
}

export const failureReport = (
  fp: Fingerprint,
  labels: Record<string, string>,
  firing: boolean,
  a: Record<string, string> = {},
) =>
  report(
    fp,
    labels,
    firing,
    `n8n workflow "${labels.workflow}" failed (${labels.class}${labels.node ? ` in ${labels.node}` : ''})`,
    a,
  )

export const missedReport = (fp: Fingerprint, w: Wf, firing: boolean, a: Record<string, string> = {}) =>
  report(fp, workflowLabels(SCHEDULE_MISSED, w), firing, `n8n workflow "${w.name}" did not run when expected`, a)

export const deactivatedReport = (fp: Fingerprint, w: Wf, firing: boolean) =>
  report(fp, workflowLabels(WORKFLOW_DEACTIVATED, w), firing, `n8n workflow "${w.name}" was deactivated`, {
    summary: `Workflow ${w.name} (${w.workflowId}) on ${w.instance} was active and is now inactive`,
  })

export const unreachableReport = (fp: Fingerprint, instance: string, firing: boolean, error = '') =>
  report(
    fp,
    { alertname: INSTANCE_UNREACHABLE, instance },
    firing,
    `n8n instance ${instance} cannot be reached`,
    error ? { error: error.slice(0, 500) } : {},
  )
