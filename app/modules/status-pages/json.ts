/**
 * The status page as JSON: the view as it is, but each component's 90 daily uptimes as runs of equal
 * days, `[days, uptime]`, oldest first (the counts add up to `days.length`). A mostly-up component is
 * a few pairs instead of 90 numbers: every day's figure is still there, at a fifth of the bytes a
 * visitor (or a script polling the page) moves (ADR 0025).
 */
import type { PublicView } from './view.ts'

export type DayRun = [days: number, uptime: number | null]

/** Consecutive equal values as `[how many, value]`, in order. */
export function dayRuns(values: (number | null)[]): DayRun[] {
  const runs: DayRun[] = []
  for (const u of values) {
    const last = runs.at(-1)
    if (last && last[1] === u) last[0]++
    else runs.push([1, u])
  }
  return runs
}

export function renderJson(v: PublicView): string {
  return JSON.stringify({
    ...v,
    groups: v.groups.map((g) => ({
      name: g.name,
      components: g.components.map(({ days, ...c }) => ({ ...c, runs: dayRuns(days) })),
    })),
  })
}
