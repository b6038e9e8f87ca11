/**
 * The Alertmanager API v2 intake, `POST /api/v2/alerts`: the array of alerts a Prometheus server
 * sends to every Alertmanager under `alerting.alertmanagers`. Prometheus re-sends each firing
 * alert (every `resend_delay`, 1 m by default, and on change) with `endsAt` a few evaluation
 * intervals ahead; a resolved alert comes with `endsAt` at (or before) the time it resolved, and is
 * re-sent for a while. So: `endsAt` ≤ now → resolved, else firing; the alert is `prometheus:` + the
 * fingerprint of its labels, and re-sends are quiet repeats (count and last seen, no event each).
 */
import * as v from 'valibot'
import { labelsFingerprint, type AlertReport } from '../lifecycle.ts'
import { Alerts, severityOf, titleOf, toMs, ToolAnnotations, ToolLabels, ToolTime, ToolUrl } from './common.ts'

/** One postable alert (Alertmanager's `postableAlert`): labels required, the rest optional. */
const PostableAlert = v.looseObject({
  labels: v.pipe(ToolLabels, v.check((l) => Object.keys(l).length > 0, 'must hold at least one label')),
  annotations: v.optional(v.nullable(ToolAnnotations)),
  startsAt: v.optional(ToolTime),
  endsAt: v.optional(ToolTime),
  generatorURL: v.optional(ToolUrl),
})

export const PostableAlerts = Alerts(PostableAlert)
export type PostableAlertsInput = v.InferOutput<typeof PostableAlerts>

export function prometheusReports(body: PostableAlertsInput, actor: string, now: number): AlertReport[] {
  return body.map((a) => {
    const labels = a.labels
    const annotations: Record<string, string> = { ...(a.annotations ?? {}) }
    if (a.generatorURL) annotations.generatorURL = a.generatorURL
    const endsAt = toMs(a.endsAt)
    const resolved = endsAt !== undefined && endsAt <= now
    return {
      fingerprint: `prometheus:${labelsFingerprint(labels)}`,
      source: 'prometheus',
      state: resolved ? 'resolved' : 'firing',
      severity: severityOf(labels),
      title: titleOf(labels, annotations, 'Alert from Prometheus'),
      labels,
      annotations,
      actor,
      startsAt: toMs(a.startsAt),
      endsAt: resolved ? endsAt : undefined,
      quietRepeat: true,
    }
  })
}
