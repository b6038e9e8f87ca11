/**
 * What the receivers for monitoring tools share: lenient-but-bounded schemas for the labels,
 * annotations and times those tools send, the severity mapping, and applying a validated batch of
 * reports through the one alert lifecycle.
 */
import * as v from 'valibot'
import type { Severity } from '../../../../db/schema/alerts.ts'
import type { AlertReport, ReportResult, ReportsOptions, TableRow } from '../lifecycle/lifecycle.ts'

export const MAX_ALERTS = 1000

const bounded = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))

/**
 * Labels as these tools send them. Grafana allows label names Prometheus would not (`team-name`),
 * so names are any text up to 200 characters; at most 64 labels.
 */
export const ToolLabels = v.pipe(
  v.record(
    v.pipe(
      v.string(),
      v.minLength(1, 'label names must not be empty'),
      v.maxLength(200, 'label names are at most 200 characters'),
    ),
    bounded(2048),
    'must be an object of string labels',
  ),
  v.check((l) => Object.keys(l).length <= 64, 'at most 64 labels'),
)
export const ToolAnnotations = v.pipe(
  v.record(
    v.pipe(v.string(), v.maxLength(200, 'annotation names are at most 200 characters')),
    bounded(16_384),
    'must be an object of string annotations',
  ),
  v.check((a) => Object.keys(a).length <= 64, 'at most 64 annotations'),
)
/**
 * `Date.parse`, remembering the last few texts: a sender stamps the alerts of one delivery (and of
 * deliveries close together) with the same few times, each validated and then converted, and
 * parsing each anew showed in the intake's profile. Module-level on purpose: a pure memo of
 * `Date.parse` (the same answer for every service and database; the input schemas use it), so it
 * holds no state of anyone's.
 */
export function parseTime(s: string): number {
  const i = timeSlot(s)
  if (times[i] === s) return parsed[i]!
  const ms = Date.parse(s)
  times[i] = s
  parsed[i] = ms
  return ms
}
const TIME_SLOTS = 64
const times: (string | undefined)[] = new Array(TIME_SLOTS)
const parsed = new Float64Array(TIME_SLOTS)
// The slot from the characters that differ between nearby times (seconds, minutes, milliseconds).
const timeSlot = (s: string) => {
  let h = s.length
  for (let i = Math.max(0, s.length - 10); i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return (h ^ (h >>> 16)) & (TIME_SLOTS - 1)
}

/** An RFC 3339 time; Alertmanager sends `0001-01-01T00:00:00Z` for "not set". */
export const ToolTime = v.pipe(
  bounded(64),
  v.check((s) => s === '' || !Number.isNaN(parseTime(s)), 'must be an RFC 3339 time'),
)
export const ToolUrl = bounded(4096)
export const Alerts = <T extends v.GenericSchema>(item: T) =>
  v.pipe(
    v.array(item, 'must be a list of alerts'),
    v.minLength(1, 'must hold at least one alert'),
    v.maxLength(MAX_ALERTS, `at most ${MAX_ALERTS} alerts per request`),
  )

/** Milliseconds, or undefined for a missing or zero time (Go's zero time is year 1). */
export function toMs(s: string | undefined | null): number | undefined {
  if (!s) return undefined
  const ms = parseTime(s)
  return Number.isNaN(ms) || ms <= 0 ? undefined : ms
}

const SEVERITY: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  page: 'critical',
  high: 'critical',
  p1: 'critical',
  emergency: 'critical',
  fatal: 'critical',
  disaster: 'critical',
  alert: 'critical',
  error: 'error',
  err: 'error',
  major: 'error',
  p2: 'error',
  warning: 'warning',
  warn: 'warning',
  medium: 'warning',
  minor: 'warning',
  average: 'warning',
  p3: 'warning',
  info: 'info',
  informational: 'info',
  information: 'info',
  notice: 'info',
  low: 'info',
  none: 'info',
  debug: 'info',
  p4: 'info',
  p5: 'info',
  ok: 'info',
}

/** The `severity` label mapped onto ours: page/critical/high → critical, … ; anything else → warning. */
export const severityOf = (labels: Record<string, string>, fallback: Severity = 'warning'): Severity =>
  SEVERITY[(labels.severity ?? '').trim().toLowerCase()] ?? fallback

/** The alert's title: `alertname`, else the summary annotation, else what the tool is. */
export const titleOf = (labels: Record<string, string>, annotations: Record<string, string>, fallback: string) =>
  (labels.alertname || annotations.summary || annotations.title || fallback).slice(0, 500)

export type ReceiverSummary = {
  received: number
  created: number
  fired: number
  pending: number
  repeated: number
  resolved: number
  unchanged: number
  stale: number
  ignored: number
}

/**
 * Applies reports that were all validated first, in one transaction with `rows(summary)` (the
 * audit row). Reports for one fingerprint apply in the order sent; a report whose state the alert
 * already has is a repeat (firing) or nothing (resolved), so a duplicate delivery never makes a
 * second alert. Firing reports of an incident the sender already resolved (a retried delivery
 * arriving after the resolution) are `stale`: they never reopen it (lifecycle `staleGuard`).
 */
export async function applyReports(
  reportMany: (reports: AlertReport[], at: number, opts: ReportsOptions) => Promise<ReportResult[]>,
  reports: AlertReport[],
  at: number,
  ignored = 0,
  rows?: (s: ReceiverSummary) => TableRow[],
): Promise<ReceiverSummary> {
  const summarise = (results: ReportResult[]) => {
    const summary: ReceiverSummary = {
      received: reports.length + ignored,
      created: 0,
      fired: 0,
      pending: 0,
      repeated: 0,
      resolved: 0,
      unchanged: 0,
      stale: 0,
      ignored,
    }
    for (const { change } of results) {
      if (change === 'none') summary.unchanged++
      else summary[change]++
    }
    return summary
  }
  if (!reports.length) return summarise([])
  // One atomic batch for the whole delivery (grouped with concurrent ones), applied in the order sent.
  return summarise(
    await reportMany(reports, at, {
      staleGuard: true,
      rows: rows && ((results) => rows(summarise(results))),
    }),
  )
}

/** A line for the audit log, or null when nothing changed state (repeats are not audited). */
export function auditSummary(s: ReceiverSummary): string | null {
  const parts = (['created', 'fired', 'pending', 'resolved'] as const)
    .filter((k) => s[k] > 0)
    .map((k) => `${s[k]} ${k}`)
  return parts.length ? `${s.received} received: ${parts.join(', ')}` : null
}
