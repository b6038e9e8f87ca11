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
// Fingerprint, so an alert shows the fingerprint Alertmanager would give the same labels. The 64-bit
// state is four 16-bit limbs (BigInt arithmetic made a read of 1,000 alerts spend ~50 ms here).
const encoder = new TextEncoder()

export function labelsFingerprint(labels: Record<string, string>): string {
  // The offset basis 0xcbf29ce484222325, lowest limb first.
  let h0 = 0x2325
  let h1 = 0x8422
  let h2 = 0x9ce4
  let h3 = 0xcbf2
  const mix = (b: number) => {
    h0 ^= b
    // × the FNV prime 2^40 + 0x1b3, modulo 2^64: h × 0x1b3 plus h shifted left by 40 bits.
    const t0 = h0 * 0x1b3
    const t1 = h1 * 0x1b3 + (t0 >>> 16)
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16)
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)
    h0 = t0 & 0xffff
    h1 = t1 & 0xffff
    h2 = t2 & 0xffff
    h3 = t3 & 0xffff
  }
  const text = (s: string) => {
    // UTF-8 bytes; ASCII (nearly every label) without encoding the string first.
    let ascii = true
    for (let i = 0; i < s.length && ascii; i++) ascii = s.charCodeAt(i) < 0x80
    if (ascii) for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i))
    else for (const b of encoder.encode(s)) mix(b)
    mix(0xff)
  }
  for (const name of Object.keys(labels).sort()) {
    text(name)
    text(labels[name]!)
  }
  const hex = (n: number) => n.toString(16).padStart(4, '0')
  return hex(h3) + hex(h2) + hex(h1) + hex(h0)
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
