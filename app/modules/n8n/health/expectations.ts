/**
 * When a workflow should have run, and whether it missed a run: pure functions of the trigger
 * summary, the last run seen and the time, so they are tested with a fake clock. Cron patterns run
 * through croner in the workflow's time zone, so a rule like "09:00 in America/New_York" moves
 * with daylight saving time exactly as n8n's own scheduler (also croner-based) moves it.
 */
import { Cron } from 'croner'
import type { TriggerSummary } from '../../../../db/schema/n8n.ts'

const MINUTE = 60_000
/** The grace window is never shorter than this: polls see runs a poll interval late at worst. */
export const MIN_GRACE_MS = MINUTE

type Rule = TriggerSummary['rules'][number]

function cronOf(rule: Rule, timezone: string | null): Cron | null {
  try {
    return new Cron(rule.cron, { paused: true, timezone: timezone ?? 'Etc/UTC' })
  } catch {
    return null // a pattern croner refuses (n8n would not run it either)
  }
}

/** The `every`-th fire of `rule` after `from` (ms), or null when it never fires again. */
function fireAfter(cron: Cron, from: number, every: number): number | null {
  let at = new Date(from)
  for (let i = 0; i < Math.max(1, every); i++) {
    const next = cron.nextRun(at)
    if (!next) return null
    at = next
  }
  return at.getTime()
}

/** Ms between two fires after `from` times the rule's `every`: how often a run is expected. */
function intervalOf(cron: Cron, from: number, every: number): number | null {
  const a = cron.nextRun(new Date(from))
  const b = a && cron.nextRun(a)
  return a && b ? (b.getTime() - a.getTime()) * Math.max(1, every) : null
}

/** The grace window for a run expected every `intervalMs`: half of it, at least a minute, at most `capMs`. */
export const graceFor = (intervalMs: number | null, capMs: number) =>
  Math.max(MIN_GRACE_MS, Math.min(capMs, intervalMs === null ? capMs : Math.floor(intervalMs / 2)))

export type ExpectationInput = {
  trigger: TriggerSummary
  /** "At least one execution every N ms" set by a user, for workflows no schedule drives. */
  expectEveryMs: number | null
  /** Start of the last execution seen (any status: a failed run still ran). */
  lastRunAt: number | null
  /** Since when the workflow has been active, as far as Homeostat knows. */
  activeSince: number | null
}

export type Expected = { at: number; graceMs: number; label: string }

/**
 * The first run expected after the later of the last run and the activation: the soonest over the
 * schedule's rules (and the user's "every N"), each with its own grace window. Null when nothing
 * is expected (no schedule, no expectation, never seen active).
 */
export function nextExpected(input: ExpectationInput, graceCapMs: number): Expected | null {
  const base = Math.max(input.lastRunAt ?? Number.NEGATIVE_INFINITY, input.activeSince ?? Number.NEGATIVE_INFINITY)
  if (!Number.isFinite(base)) return null
  let best: Expected | null = null
  for (const rule of input.trigger.rules) {
    const cron = cronOf(rule, input.trigger.timezone)
    if (!cron) continue
    const at = fireAfter(cron, base, rule.every)
    if (at === null) continue
    if (!best || at < best.at)
      best = { at, graceMs: graceFor(intervalOf(cron, base, rule.every), graceCapMs), label: rule.label }
  }
  if (input.expectEveryMs) {
    const at = base + input.expectEveryMs
    if (!best || at < best.at)
      best = { at, graceMs: graceFor(input.expectEveryMs, graceCapMs), label: `every ${input.expectEveryMs / 1000} s` }
  }
  return best
}

/** The expected run that was missed by `now` (its grace window closed with no run), or null. */
export function missedRun(input: ExpectationInput, now: number, graceCapMs: number): Expected | null {
  const next = nextExpected(input, graceCapMs)
  return next && now > next.at + next.graceMs ? next : null
}

/** The next fire of the schedule after `now` (for the dashboard's "next expected run"). */
export function nextFire(trigger: TriggerSummary, now: number): number | null {
  let best: number | null = null
  for (const rule of trigger.rules) {
    const cron = cronOf(rule, trigger.timezone)
    const next = cron?.nextRun(new Date(now))?.getTime() ?? null
    if (next !== null && (best === null || next < best)) best = next
  }
  return best
}

/** The schedule's fire times in [from, to], at most `max` (for the timeline of expected vs actual runs). */
export function firesBetween(trigger: TriggerSummary, from: number, to: number, max = 500): number[] {
  const out: number[] = []
  for (const rule of trigger.rules) {
    const cron = cronOf(rule, trigger.timezone)
    if (!cron) continue
    let at: Date | null = new Date(from - 1)
    while (out.length < max && (at = cron.nextRun(at)) && at.getTime() <= to) out.push(at.getTime())
  }
  return out.sort((a, b) => a - b).slice(0, max)
}
