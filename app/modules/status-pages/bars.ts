/**
 * A component's 90 daily bars as HTML, and their summary for assistive technology. Consecutive days
 * that show the same figure (the same class and the same title text) are one element spanning them
 * (`n<days>` class; status.css draws it as that many bars), so a mostly-up component is a handful of
 * elements rather than 90, and a day that differs keeps its own bar and title (ADR 0025). The past
 * days change only when a late result or the retention moves one, so `createBarsRenderer` keeps each
 * component's past runs and their summary figures, and a render makes only the run holding today.
 * Its output equals `bars` (tests/unit/status-bars.test.ts).
 */

export const fmt = (n: number) => `${n.toFixed(n === 100 ? 0 : 2)} %`
const barClass = (u: number | null) => (u === null ? 'none' : u >= 99.9 ? 'ok' : u >= 95 ? 'minor' : 'bad')
/** What a day's title says of it; days merge into one element only when this text is the same. */
const shown = (u: number | null) => (u === null ? 'no data' : fmt(u))

/**
 * The element for days `from` to `to - 1`, all showing `u`, as a string, not through JSX: this keeps
 * both the build and the size down. Only dates and numbers go in, so nothing needs escaping.
 */
function run(days: string[], from: number, to: number, u: number | null) {
  const n = to - from
  if (n === 1) return `<i class="b ${barClass(u)}" title="${days[from]}: ${shown(u)}"></i>`
  return `<i class="b ${barClass(u)} n${n}" title="${days[from]} to ${days[to - 1]}: ${shown(u)}"></i>`
}

/** The runs of days `from` to `to - 1` as HTML, and where the last run began (it may go on after `to`). */
function runs(days: string[], values: (number | null)[], from: number, to: number) {
  let html = ''
  let start = from
  let text = shown(values[from] ?? null)
  for (let i = from + 1; i < to; i++) {
    const u = values[i] ?? null
    // Equal values show the same text; only differing ones are formatted to compare.
    if (u === (values[start] ?? null) || shown(u) === text) continue
    html += run(days, start, i, values[start] ?? null)
    start = i
    text = shown(u)
  }
  return { html, start }
}

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
  const n = values.length
  const label = summary(figures(days, values, 0, n), days.length, uptime)
  if (!n) return { html: '', label }
  const { html, start } = runs(days, values, 0, n)
  return { html: html + run(days, start, n, values[start] ?? null), label }
}

/**
 * A component's past days as kept: the HTML of every run but the last, where that last run began
 * (today may extend it), and the summary figures of the past days.
 */
type Past = { first: string; values: (number | null)[]; html: string; tail: number; figures: Figures }

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
      if (last < 1) return bars(days, values, uptime)
      let past = before?.get(key)
      if (!past || past.first !== days[0] || !samePast(past.values, values, last)) {
        const { html, start } = runs(days, values, 0, last)
        past = {
          first: days[0]!,
          values: values.slice(0, last),
          html,
          tail: start,
          figures: figures(days, values, 0, last),
        }
      }
      now.set(key, past)
      const f = { ...past.figures }
      const today = values[last] ?? null
      add(f, days[last]!, today)
      const tail = values[past.tail] ?? null
      // Today joins the past's last run when it shows the same figure; otherwise both are drawn.
      const html =
        shown(today) === shown(tail)
          ? past.html + run(days, past.tail, last + 1, tail)
          : past.html + run(days, past.tail, last, tail) + run(days, last, last + 1, today)
      return { html, label: summary(f, days.length, uptime) }
    }
  }
}

const samePast = (kept: (number | null)[], values: (number | null)[], last: number) => {
  if (kept.length !== last) return false
  for (let i = 0; i < last; i++) if (kept[i] !== values[i]) return false
  return true
}

export type BarsRenderer = ReturnType<typeof createBarsRenderer>
