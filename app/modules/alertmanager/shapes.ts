/**
 * Homeostat's alerts and silences in Alertmanager's API v2 shapes (api/v2/openapi.yaml), and
 * Alertmanager's matchers in Homeostat's form. Plain functions: the routes give them what they read.
 */
import type { Alert, LabelMatcher } from '../../../db/schema/alerts.ts'
import type { Silence } from '../../../db/schema/notify.ts'
import { toIso } from '../../lib/time.ts'

/** Alertmanager's matcher: `isEqual` false negates, `isRegex` makes the value an anchored RE2 pattern. */
export type AmMatcher = { name: string; value: string; isRegex: boolean; isEqual?: boolean }

export function toHomeostatMatcher(m: AmMatcher): LabelMatcher {
  const equal = m.isEqual ?? true
  const op = m.isRegex ? (equal ? '=~' : '!~') : equal ? '=' : '!='
  return { label: m.name, op, value: m.value }
}

export const toAmMatcher = (m: LabelMatcher) => ({
  name: m.label,
  value: m.value,
  isRegex: m.op === '=~' || m.op === '!~',
  isEqual: m.op === '=' || m.op === '=~',
})

// FNV-1a 64 over `name \xff value \xff`, labels sorted by name: Prometheus's model.LabelSet
// Fingerprint, so an alert shows the fingerprint Alertmanager would give the same labels.
const FNV_OFFSET = 14695981039346656037n
const FNV_PRIME = 1099511628211n
const MASK = (1n << 64n) - 1n
const encoder = new TextEncoder()

export function labelsFingerprint(labels: Record<string, string>): string {
  let h = FNV_OFFSET
  const mix = (bytes: Uint8Array) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK
  }
  const sep = new Uint8Array([0xff])
  for (const name of Object.keys(labels).sort()) {
    mix(encoder.encode(name))
    mix(sep)
    mix(encoder.encode(labels[name]!))
    mix(sep)
  }
  return h.toString(16).padStart(16, '0')
}

/** Alertmanager's default `resolve_timeout`: an open alert's endsAt is its last report plus this. */
export const RESOLVE_TIMEOUT_MS = 5 * 60_000

export type AlertView = {
  alert: Alert
  silencedBy: string[]
  receivers: string[]
}

/**
 * An alert as Alertmanager's gettableAlert. pending (a rule's `for` not yet met) is `unprocessed`;
 * firing and acknowledged are `active`, or `suppressed` while a silence matches. Homeostat has no
 * inhibition, so `inhibitedBy` is always empty.
 */
export function gettableAlert({ alert: a, silencedBy, receivers }: AlertView, publicUrl: string) {
  const { generatorURL, ...annotations } = a.annotations
  const state = a.status === 'pending' ? 'unprocessed' : silencedBy.length ? 'suppressed' : 'active'
  return {
    labels: a.labels,
    annotations,
    receivers: receivers.map((name) => ({ name })),
    fingerprint: labelsFingerprint(a.labels),
    startsAt: toIso(a.startsAt ?? a.activeAt)!,
    endsAt: toIso(a.endsAt ?? a.lastSeenAt + RESOLVE_TIMEOUT_MS)!,
    updatedAt: toIso(a.updatedAt)!,
    generatorURL: generatorURL ?? `${publicUrl}/alerts/${a.id}`,
    status: { state, silencedBy, inhibitedBy: [] as string[] },
  }
}
export type GettableAlert = ReturnType<typeof gettableAlert>

export type SilenceStateName = 'active' | 'pending' | 'expired'

/**
 * A silence as Alertmanager's gettableSilence. A recurring Homeostat window shows its current (or
 * next) window as startsAt/endsAt; an expired one ends when it was expired, if that came first.
 */
export function gettableSilence(
  s: Silence,
  state: SilenceStateName,
  window: { startsAt: number; endsAt: number } | null,
) {
  const ended = s.expiredAt !== null ? Math.min(s.expiredAt, s.endsAt) : s.endsAt
  return {
    id: s.id,
    status: { state },
    updatedAt: toIso(s.expiredAt ?? s.createdAt)!,
    matchers: s.matchers.map(toAmMatcher),
    startsAt: toIso(window?.startsAt ?? s.startsAt)!,
    endsAt: toIso(window && state !== 'expired' ? window.endsAt : ended)!,
    createdBy: s.createdBy,
    comment: s.comment,
  }
}
