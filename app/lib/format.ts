/** How the dashboard writes figures: percentages, durations, money, quantities and ratios ('—' when unknown). */
export const pct = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : `${n >= 99.995 && n < 100 ? n.toFixed(3) : n.toFixed(2)}%`
export const ms = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`
export const usd = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : n === 0 ? '$0' : n < 0.01 ? `$${n.toPrecision(2)}` : `$${n.toFixed(2)}`
export const qty = (n: number | null | undefined) =>
  n === null || n === undefined
    ? '—'
    : n >= 1e9
      ? `${(n / 1e9).toFixed(2)}B`
      : n >= 1e6
        ? `${(n / 1e6).toFixed(2)}M`
        : n >= 1e4
          ? `${(n / 1e3).toFixed(1)}k`
          : String(Math.round(n))
export const rate = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : `${(n * 100).toFixed(n < 0.001 && n > 0 ? 3 : 2)}%`
export const bytes = (n: number | null | undefined) =>
  n === null || n === undefined
    ? '—'
    : n >= 1 << 30
      ? `${(n / (1 << 30)).toFixed(2)} GB`
      : n >= 1 << 20
        ? `${(n / (1 << 20)).toFixed(1)} MB`
        : n >= 1024
          ? `${(n / 1024).toFixed(1)} kB`
          : `${n} B`
