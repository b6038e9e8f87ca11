/**
 * Alertmanager's webhook (`webhook_configs`), payload version 4: a notification for one group of
 * alerts, each with its own status and Alertmanager's fingerprint of its labels. Every alert
 * becomes (or updates) the Homeostat alert `alertmanager:<fingerprint>`.
 */
import * as v from 'valibot'
import { type AlertReport, type LabelsFingerprint, labelsFingerprint } from '../lifecycle/lifecycle.ts'
import { Alerts, severityOf, titleOf, toMs, ToolAnnotations, ToolLabels, ToolTime, ToolUrl } from './common.ts'

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
export const AlertStatus = v.picklist(['firing', 'resolved'], 'must be firing or resolved')
export const Fingerprint = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(128, 'must be at most 128 characters'),
  v.regex(/^[\w.:-]+$/, 'may hold letters, digits and _ . : -'),
)

/** One alert of a webhook notification; fields the tool adds beyond these are accepted and kept out. */
export const alertFields = {
  status: AlertStatus,
  labels: ToolLabels,
  annotations: v.optional(v.nullable(ToolAnnotations)),
  startsAt: v.optional(ToolTime),
  endsAt: v.optional(ToolTime),
  generatorURL: v.optional(ToolUrl),
  fingerprint: v.optional(Fingerprint),
}
const AmAlert = v.looseObject(alertFields)

/** The fields of the notification around the alerts, shared with Grafana (which adds its own). */
export const groupFields = {
  groupKey: v.optional(text(2048)),
  truncatedAlerts: v.optional(
    v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(0, 'must not be negative')),
  ),
  status: AlertStatus,
  receiver: v.optional(text(1024)),
  groupLabels: v.optional(v.nullable(ToolLabels)),
  commonLabels: v.optional(v.nullable(ToolLabels)),
  commonAnnotations: v.optional(v.nullable(ToolAnnotations)),
  externalURL: v.optional(ToolUrl),
}

/**
 * The top level is strict (an unknown field there means this is not an Alertmanager webhook and is
 * named in the 400); each alert accepts extra fields, as later Alertmanager versions may add some.
 */
export const AlertmanagerWebhook = v.strictObject({
  version: v.literal('4', 'must be "4" (Alertmanager webhook payload version 4)'),
  ...groupFields,
  alerts: Alerts(AmAlert),
})
export type AlertmanagerInput = v.InferOutput<typeof AlertmanagerWebhook>
export type WebhookAlert = v.InferOutput<typeof AmAlert>

/**
 * A webhook alert as a lifecycle report under `source`; `extra` adds tool-specific annotations.
 * `fingerprint`: how labels become a fingerprint (the routes pass the alerts service's memo).
 */
export function webhookReport(
  a: WebhookAlert,
  source: string,
  actor: string,
  extra: Record<string, string> = {},
  value?: number | null,
  fingerprint: LabelsFingerprint = labelsFingerprint,
): AlertReport {
  const labels = a.labels
  const annotations: Record<string, string> = { ...(a.annotations ?? {}), ...extra }
  if (a.generatorURL) annotations.generatorURL = a.generatorURL
  return {
    fingerprint: a.fingerprint ? `${source}:${a.fingerprint}` : fingerprint(labels, `${source}:`),
    source,
    state: a.status,
    severity: severityOf(labels),
    title: titleOf(labels, annotations, `Alert from ${source}`),
    labels,
    annotations,
    value,
    actor,
    startsAt: toMs(a.startsAt),
    endsAt: a.status === 'resolved' ? toMs(a.endsAt) : undefined,
  }
}

export const alertmanagerReports = (
  body: AlertmanagerInput,
  actor: string,
  fingerprint: LabelsFingerprint = labelsFingerprint,
): AlertReport[] => body.alerts.map((a) => webhookReport(a, 'alertmanager', actor, {}, undefined, fingerprint))
