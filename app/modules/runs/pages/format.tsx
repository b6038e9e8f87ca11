/** @jsxImportSource hono/jsx */
/** Small pieces every runs page shares: formats, the status pill, the section tabs. */
import { TabNav } from '../../../lib/layout.tsx'

export const usd = (n: number | null | undefined) =>
  n == null ? '—' : n === 0 ? '$0' : n < 0.01 ? `$${n.toPrecision(2)}` : `$${n.toFixed(2)}`
export const dur = (n: number | null | undefined) =>
  n == null
    ? '—'
    : n < 1000
      ? `${Math.round(n)} ms`
      : n < 120_000
        ? `${(n / 1000).toFixed(1)} s`
        : n < 7_200_000
          ? `${(n / 60_000).toFixed(1)} min`
          : `${(n / 3_600_000).toFixed(1)} h`
export const tokens = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : `${n}`
export const pct = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(1)}%` : '—')

/** Run and task statuses share one colour scale (public/runs.css): good, bad, waiting, moving, idle. */
export const tone = (status: string) =>
  status === 'succeeded'
    ? 'good'
    : status === 'failed' || status === 'aborted'
      ? 'bad'
      : status === 'escalated'
        ? 'wait'
        : status === 'running'
          ? 'move'
          : 'idle'

export const StatusPill = ({ status }: { status: string }) => <span class={`pill rs-${tone(status)}`}>{status}</span>

export const RunsTabs = ({ active }: { active: string }) => (
  <TabNav
    label="Runs"
    active={active}
    tabs={[
      { href: '/runs', label: 'Runs' },
      { href: '/runs/queue', label: 'Escalation queue' },
      { href: '/runs/reports', label: 'Reports' },
    ]}
  />
)

export const RunsCss = () => <link rel="stylesheet" href="/static/runs.css" />

export const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
