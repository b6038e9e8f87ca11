/**
 * Uptime Kuma's webhook notification (`application/json` body): `{heartbeat, monitor, msg}`.
 *
 * Heartbeat status → what Homeostat does (one alert per monitor, `uptime_kuma:<monitor id>`):
 * - 0 down        → firing (a repeat when it is already firing)
 * - 1 up          → resolved
 * - 2 pending     → pending (Uptime Kuma is retrying before it calls the monitor down); a repeat
 *                   when it is already firing, so it never quietens an outage
 * - 3 maintenance → ignored (200, nothing written): a maintenance window is no news, and the
 *                   next up or down settles the alert
 * Uptime Kuma's "Test" button and certificate-expiry notices carry no heartbeat: they are answered
 * 200 with nothing written, so the test succeeds.
 */
import * as v from 'valibot'
import { severities, type Severity } from '../../../../db/schema/alerts.ts'
import type { AlertReport } from '../lifecycle/lifecycle.ts'

const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
const optionalText = (max: number) => v.optional(v.nullable(text(max)))
const Id = v.pipe(
  v.number('must be a number'),
  v.integer('must be a whole number'),
  v.minValue(0, 'must not be negative'),
)

const Heartbeat = v.looseObject({
  status: v.picklist([0, 1, 2, 3], 'must be 0 (down), 1 (up), 2 (pending) or 3 (maintenance)'),
  msg: optionalText(16_384),
  time: optionalText(64),
  ping: v.optional(v.nullable(v.number('must be a number'))),
  monitorID: v.optional(v.nullable(Id)),
})
const Monitor = v.looseObject({
  id: Id,
  name: text(500),
  url: optionalText(4096),
  hostname: optionalText(1024),
  type: optionalText(100),
})

/** Strict at the top: a payload that is not Uptime Kuma's is named in the 400. */
export const UptimeKumaWebhook = v.pipe(
  v.strictObject({
    heartbeat: v.optional(v.nullable(Heartbeat)),
    monitor: v.optional(v.nullable(Monitor)),
    msg: text(2048),
  }),
  v.forward(
    v.check(
      (b) => !b.heartbeat || b.monitor != null || b.heartbeat.monitorID != null,
      'is missing: a heartbeat needs the monitor (or heartbeat.monitorID) it belongs to',
    ),
    ['monitor'],
  ),
)
export type UptimeKumaInput = v.InferOutput<typeof UptimeKumaWebhook>

export const UptimeKumaQuery = v.object({
  severity: v.optional(v.picklist(severities, `must be one of ${severities.join(', ')}`)),
})

const STATES = { 0: 'firing', 1: 'resolved', 2: 'pending' } as const

/** Uptime Kuma writes times as `YYYY-MM-DD HH:mm:ss.SSS` in UTC. */
function kumaTime(s: string | null | undefined) {
  if (!s) return undefined
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`)
  return Number.isNaN(ms) ? undefined : ms
}

/** The report for this delivery, or null when it reports nothing (test message, maintenance). */
export function uptimeKumaReport(
  body: UptimeKumaInput,
  actor: string,
  severity: Severity = 'critical',
): AlertReport | null {
  const hb = body.heartbeat
  if (!hb || hb.status === 3) return null
  const id = body.monitor?.id ?? hb.monitorID!
  const name = body.monitor?.name ?? `monitor ${id}`
  const labels: Record<string, string> = { alertname: name, monitor_id: String(id) }
  const m = body.monitor
  if (m?.type) labels.monitor_type = m.type
  if (m?.url && m.url !== 'https://' && m.url !== 'http://') labels.url = m.url
  if (m?.hostname) labels.hostname = m.hostname
  const annotations: Record<string, string> = { summary: body.msg }
  if (hb.msg) annotations.description = hb.msg
  const state = STATES[hb.status]
  const at = kumaTime(hb.time)
  return {
    fingerprint: `uptime_kuma:${id}`,
    source: 'uptime_kuma',
    state,
    severity,
    title: `Monitor ${name} is down`.slice(0, 500),
    labels,
    annotations,
    value: hb.ping ?? null,
    actor,
    startsAt: state === 'firing' ? at : undefined,
    endsAt: state === 'resolved' ? at : undefined,
  }
}
