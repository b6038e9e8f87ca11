/**
 * The Alertmanager API v2 intake, `POST /api/v2/alerts`: the array of alerts a Prometheus server
 * sends to every Alertmanager under `alerting.alertmanagers`. Prometheus re-sends each firing
 * alert (every `resend_delay`, 1 m by default, and on change) with `endsAt` a few evaluation
 * intervals ahead; a resolved alert comes with `endsAt` at (or before) the time it resolved, and is
 * re-sent for a while. So: `endsAt` ≤ now → resolved, else firing; the alert is `prometheus:` + the
 * fingerprint of its labels, and re-sends are quiet repeats (count and last seen, no event each).
 */
import * as v from 'valibot'
import { labelsFingerprint, type AlertReport, type LabelsFingerprint } from '../lifecycle/lifecycle.ts'
import {
  Alerts,
  MAX_ALERTS,
  parseTime,
  severityOf,
  titleOf,
  toMs,
  ToolAnnotations,
  ToolLabels,
  ToolTime,
  ToolUrl,
} from './common.ts'

/** One postable alert (Alertmanager's `postableAlert`): labels required, the rest optional. */
const PostableAlert = v.looseObject({
  labels: v.pipe(
    ToolLabels,
    v.check((l) => Object.keys(l).length > 0, 'must hold at least one label'),
  ),
  annotations: v.optional(v.nullable(ToolAnnotations)),
  startsAt: v.optional(ToolTime),
  endsAt: v.optional(ToolTime),
  generatorURL: v.optional(ToolUrl),
})

export const PostableAlerts = Alerts(PostableAlert)

// valibot's records leave these keys out of their output: such bodies go through the schema.
const UNSAFE_KEYS = new Set(['__proto__', 'prototype', 'constructor'])
const isPlain = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
function stringRecord(x: unknown, min: number, keyMax: number, valueMax: number) {
  if (!isPlain(x)) return false
  let n = 0
  for (const k in x) {
    if (!Object.hasOwn(x, k)) return false
    const val = x[k]
    if (
      ++n > 64 ||
      k.length < min ||
      k.length > keyMax ||
      UNSAFE_KEYS.has(k) ||
      typeof val !== 'string' ||
      val.length > valueMax
    )
      return false
  }
  return n > 0 || min === 0
}
const time = (x: unknown) =>
  x === undefined || (typeof x === 'string' && x.length <= 64 && (x === '' || !Number.isNaN(parseTime(x))))

/**
 * True only for a body `PostableAlerts` accepts as it is (its output is the input): the intake's
 * quick path, a few times cheaper than the schema. Anything else goes through the schema, which
 * names each bad field.
 */
export function isPostableAlerts(body: unknown): boolean {
  if (!Array.isArray(body) || body.length < 1 || body.length > MAX_ALERTS) return false
  for (const a of body) {
    if (!isPlain(a) || !stringRecord(a.labels, 1, 200, 2048)) return false
    if (a.annotations !== undefined && a.annotations !== null && !stringRecord(a.annotations, 0, 200, 16_384))
      return false
    if (!time(a.startsAt) || !time(a.endsAt)) return false
    if (a.generatorURL !== undefined && (typeof a.generatorURL !== 'string' || a.generatorURL.length > 4096))
      return false
  }
  return true
}
export type PostableAlertsInput = v.InferOutput<typeof PostableAlerts>

/** `fingerprint`: how labels become a fingerprint (the routes pass the alerts service's memo). */
export function prometheusReports(
  body: PostableAlertsInput,
  actor: string,
  now: number,
  fingerprint: LabelsFingerprint = labelsFingerprint,
): AlertReport[] {
  return body.map((a) => {
    const labels = a.labels
    // The request's own parsed object, not a copy (one fewer object an alert).
    const annotations: Record<string, string> = a.annotations ?? {}
    if (a.generatorURL) annotations.generatorURL = a.generatorURL
    const endsAt = toMs(a.endsAt)
    const resolved = endsAt !== undefined && endsAt <= now
    return {
      fingerprint: fingerprint(labels, 'prometheus:'),
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
