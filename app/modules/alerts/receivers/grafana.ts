/**
 * Grafana unified alerting's webhook contact point: Alertmanager's shape (Grafana runs an embedded
 * Alertmanager) plus `title`, `state`, `message`, `orgId`, and per alert the dashboard, panel and
 * silence links, the query values and their text. Every alert becomes `grafana:<fingerprint>`.
 */
import * as v from 'valibot'
import { type AlertReport, type LabelsFingerprint, labelsFingerprint } from '../lifecycle/lifecycle.ts'
import { alertFields, groupFields, webhookReport } from './alertmanager.ts'
import { Alerts, ToolUrl } from './common.ts'

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))

const GrafanaAlert = v.looseObject({
  ...alertFields,
  dashboardURL: v.optional(ToolUrl),
  panelURL: v.optional(ToolUrl),
  silenceURL: v.optional(ToolUrl),
  imageURL: v.optional(ToolUrl),
  valueString: v.optional(text(16_384)),
  values: v.optional(
    v.nullable(
      v.record(
        v.pipe(v.string(), v.maxLength(200)),
        v.nullable(v.number('values must be numbers')),
        'must be an object of numbers',
      ),
    ),
  ),
})

/** Strict at the top (a legacy-alerting or foreign payload is named in the 400); extra fields per alert are accepted. */
export const GrafanaWebhook = v.strictObject({
  ...groupFields,
  version: v.optional(text(16)),
  orgId: v.optional(v.number('must be a number')),
  title: v.optional(text(2048)),
  state: v.optional(text(64)),
  message: v.optional(text(65_536)),
  alerts: Alerts(GrafanaAlert),
})
export type GrafanaInput = v.InferOutput<typeof GrafanaWebhook>

/** The first finite query value (Grafana sends e.g. `{"A": 97.2, "C": 1}`), for the alert's value. */
function firstValue(values: Record<string, number | null> | null | undefined) {
  for (const x of Object.values(values ?? {})) if (typeof x === 'number' && Number.isFinite(x)) return x
  return undefined
}

export const grafanaReports = (
  body: GrafanaInput,
  actor: string,
  fingerprint: LabelsFingerprint = labelsFingerprint,
): AlertReport[] =>
  body.alerts.map((a) => {
    const links: Record<string, string> = {}
    for (const k of ['dashboardURL', 'panelURL', 'silenceURL', 'valueString'] as const) if (a[k]) links[k] = a[k]
    return webhookReport(a, 'grafana', actor, links, firstValue(a.values), fingerprint)
  })
