/**
 * When a silence silences what: pure functions over silence rows, a label set and a time.
 * A one-off silence is active in [startsAt, endsAt); a recurring one (maintenance window) only
 * for `durationMs` from each time its Croner pattern fires, within the same [startsAt, endsAt).
 * Expiring early ends either kind at `expiredAt`.
 */
import { Cron } from 'croner'
import type { LabelMatcher } from '../../../../db/schema/alerts.ts'
import type { Silence } from '../../../../db/schema/notify.ts'
import { boundedMap } from '../../../lib/bounded-map.ts'
import { compileMatchers } from '../../../lib/matchers.ts'

/** What a silence needs for matching: a row, or a draft with the same fields. */
export type SilenceLike = Pick<
  Silence,
  'id' | 'matchers' | 'startsAt' | 'endsAt' | 'cron' | 'durationMs' | 'timezone' | 'expiredAt'
>

export type SilenceState = 'active' | 'pending' | 'expired'

/** The end of a recurring window with no end of its own (9999-12-31). */
export const NO_END = 253_402_300_799_999

/** When the silence stops for good: its end, or when it was expired early. */
export const effectiveEnd = (s: Pick<SilenceLike, 'endsAt' | 'expiredAt'>) =>
  s.expiredAt != null ? Math.min(s.expiredAt, s.endsAt) : s.endsAt

/**
 * The functions over silences and time, with their memos of compiled patterns: one set per alerts
 * service (the silences store makes it), so no compiled pattern outlives the service that made it.
 */
export function createSilenceWindows() {
  const crons = new Map<string, Cron>()
  /** The Cron for a pattern and timezone, UTC by default (cached; nothing is scheduled). Throws on a bad pattern or timezone. */
  function cronFor(pattern: string, timezone?: string | null): Cron {
    const key = `${pattern}\u0000${timezone ?? ''}`
    let c = crons.get(key)
    if (!c) {
      c = new Cron(pattern, { paused: true, timezone: timezone || 'Etc/UTC' }) // UTC unless a zone is given
      c.nextRun(new Date(0)) // a bad timezone throws here, not at construction
      if (crons.size > 1000) crons.clear()
      crons.set(key, c)
    }
    return c
  }

  // Bounded, and dropping the least used one at a time: clearing all at 5000 made every silence
  // recompile at once, and a map of patterns users write must not grow without end.
  const compiled = boundedMap<string, (labels: Record<string, string>) => boolean>(5000)
  function matcherFor(list: LabelMatcher[]) {
    const key = JSON.stringify(list)
    let f = compiled.get(key)
    if (!f) {
      f = compileMatchers(list)
      compiled.set(key, f)
    }
    return f
  }

  /** Whether the matchers select these labels (a missing label reads as ''). */
  const matchesLabels = (matchers: LabelMatcher[], labels: Record<string, string>) => matcherFor(matchers)(labels)

  /**
   * The recurring window `now` falls in, if any: the first occurrence after `now - duration` is
   * at or before `now` (an occurrence o covers [o, o + duration)). Clipped to [startsAt, end).
   */
  function windowAt(s: SilenceLike, now: number): { startsAt: number; endsAt: number } | null {
    if (!s.cron || !s.durationMs) return null
    const o = cronFor(s.cron, s.timezone).nextRun(new Date(now - s.durationMs))
    if (!o || o.getTime() > now) return null
    return {
      startsAt: Math.max(o.getTime(), s.startsAt),
      endsAt: Math.min(o.getTime() + s.durationMs, effectiveEnd(s)),
    }
  }

  /** Whether the silence is in force at `now` (ignoring matchers). */
  function silencesAt(s: SilenceLike, now: number): boolean {
    if (now < s.startsAt || now >= effectiveEnd(s)) return false
    return s.cron ? windowAt(s, now) !== null : true
  }

  /** active (silencing now), pending (will: not started yet, or between recurring windows) or expired. */
  function silenceState(s: SilenceLike, now: number): SilenceState {
    if (now >= effectiveEnd(s)) return 'expired'
    return silencesAt(s, now) ? 'active' : 'pending'
  }

  /** The next recurring window that starts after `now` within the silence's span, if any. */
  function nextWindow(s: SilenceLike, now: number): { startsAt: number; endsAt: number } | null {
    if (!s.cron || !s.durationMs) return null
    const end = effectiveEnd(s)
    const o = cronFor(s.cron, s.timezone).nextRun(new Date(Math.max(now, s.startsAt - 1)))
    if (!o || o.getTime() >= end) return null
    return { startsAt: o.getTime(), endsAt: Math.min(o.getTime() + s.durationMs, end) }
  }

  /** The silences in force at `now` whose matchers select these labels. Pure. */
  const matchingSilences = <S extends SilenceLike>(labels: Record<string, string>, silences: S[], now: number): S[] =>
    silences.filter((s) => silencesAt(s, now) && matchesLabels(s.matchers, labels))

  /** Whether any silence in force at `now` selects these labels. Pure. */
  const isSilenced = (labels: Record<string, string>, silences: SilenceLike[], now: number) =>
    silences.some((s) => silencesAt(s, now) && matchesLabels(s.matchers, labels))

  return { cronFor, matchesLabels, windowAt, silencesAt, silenceState, nextWindow, matchingSilences, isSilenced }
}

export type SilenceWindows = ReturnType<typeof createSilenceWindows>
