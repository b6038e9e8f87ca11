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

/**
 * Milliseconds as the shortest exact duration text a form field takes back (300000 → 5m, 90000 →
 * 90s, 1500 → 1500); a text is kept as it is, nothing is ''. The alert rule, policy and healing
 * rule forms share it so a value round-trips the same way in each.
 */
export function dur(ms: number | string | undefined | null): string {
  if (ms === undefined || ms === null) return ''
  if (typeof ms === 'string') return ms
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return String(ms)
}
