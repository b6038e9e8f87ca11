/**
 * A component's 90 daily bars as HTML, and their summary for assistive technology. A page of many
 * components is mostly bars (40 components: 3,600 bars, ~180 KB, nearly all of a render's time), and
 * the past days' bars change only when a late result or the retention moves a past day, so
 * `createBarsRenderer` keeps each component's past bars and their summary figures, and a render makes
 * only today's bar (ADR 0025). Its output equals `bars` (tests/unit/status-bars.test.ts).
 */

export const fmt = (n: number) => `${n.toFixed(n === 100 ? 0 : 2)} %`
const barClass = (u: number | null) => (u === null ? 'none' : u >= 99.9 ? 'ok' : u >= 95 ? 'minor' : 'bad')

/**
 * One bar as a string, not an element through JSX: this keeps both the build and the size down.
 * Only dates and numbers go in, so nothing needs escaping.
 */
const bar = (day: string, u: number | null) =>
  `<i class="b ${barClass(u)}" title="${day}: ${u === null ? 'no data' : fmt(u)}"></i>`

/** What the summary needs of some days: how many are known, how many had downtime, and the worst (first of equals). */
type Figures = { known: number; down: number; worst: { u: number; day: string } | undefined }

function figures(days: string[], values: (number | null)[], from: number, to: number): Figures {
  const f: Figures = { known: 0, down: 0, worst: undefined }
  for (let i = from; i < to; i++) add(f, days[i]!, values[i] ?? null)
  return f
}

function add(f: Figures, day: string, u: number | null) {
  if (u === null) return
  f.known++
  if (u < 99.9) f.down++
  if (!f.worst || u < f.worst.u) f.worst = { u, day }
}

/** The bars' summary: how many days were fully up, and the worst day. */
function summary(f: Figures, days: number, uptime: number | null) {
  if (!f.known || !f.worst) return `No data in the last ${days} days`
  const up = uptime === null ? '' : `${fmt(uptime)} uptime, `
  return `Last ${days} days: ${up}${f.down ? `${f.down} days with downtime, worst ${f.worst.day} at ${fmt(f.worst.u)}` : 'no downtime'}`
}

export type Bars = { html: string; label: string }

/** The bars and their summary, made from scratch. */
export function bars(days: string[], values: (number | null)[], uptime: number | null): Bars {
  let html = ''
  for (let i = 0; i < values.length; i++) html += bar(days[i]!, values[i] ?? null)
  return { html, label: summary(figures(days, values, 0, values.length), days.length, uptime) }
}

type Past = { first: string; values: (number | null)[]; html: string; figures: Figures }

/**
 * `bars` keeping each component's past days, by page and by the component's place on it. Per page
 * only the entries of its last render are kept, so a component moved or removed costs nothing later.
 */
export function createBarsRenderer() {
  const pages = new Map<string, Map<string, Past>>()
  return function renderPage(slug: string) {
    const before = pages.get(slug)
    const now = new Map<string, Past>()
    pages.set(slug, now)
    return (key: string, days: string[], values: (number | null)[], uptime: number | null): Bars => {
      const last = values.length - 1
      if (last < 0) return bars(days, values, uptime)
      let past = before?.get(key)
      if (!past || past.first !== days[0] || !samePast(past.values, values, last)) {
        let html = ''
        for (let i = 0; i < last; i++) html += bar(days[i]!, values[i] ?? null)
        past = { first: days[0]!, values: values.slice(0, last), html, figures: figures(days, values, 0, last) }
      }
      now.set(key, past)
      const f = { ...past.figures }
      add(f, days[last]!, values[last] ?? null)
      return { html: past.html + bar(days[last]!, values[last] ?? null), label: summary(f, days.length, uptime) }
    }
  }
}

const samePast = (kept: (number | null)[], values: (number | null)[], last: number) => {
  if (kept.length !== last) return false
  for (let i = 0; i < last; i++) if (kept[i] !== values[i]) return false
  return true
}

export type BarsRenderer = ReturnType<typeof createBarsRenderer>
