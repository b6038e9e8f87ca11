/** @jsxImportSource hono/jsx */
/**
 * The run's timeline (a Gantt chart) as SVG: one bar per started task on a shared time axis, in
 * start order, coloured by status; a task still running reaches to now. Tasks never started are
 * counted under it, not drawn.
 */
import type { RunTask } from '../../../../db/schema/runs.ts'
import { dur, tone } from './format.tsx'

const ROW = 16
const LABEL_W = 180
const WIDTH = 900

export function Timeline({ tasks, now }: { tasks: RunTask[]; now: number }) {
  const started = tasks.filter((t) => t.startedAt != null)
  if (!started.length) return <p class="empty">No task has started yet.</p>
  const t0 = Math.min(...started.map((t) => t.startedAt!))
  const t1 = Math.max(...started.map((t) => t.endedAt ?? now))
  const span = Math.max(1, t1 - t0)
  const plot = WIDTH - LABEL_W - 8
  const x = (ms: number) => LABEL_W + ((ms - t0) / span) * plot
  const height = started.length * ROW + 20
  const ticks = [0, 0.25, 0.5, 0.75, 1]
  return (
    <div class="run-timeline-box">
      <svg
        id="run-timeline"
        class="run-timeline"
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={WIDTH}
        height={height}
        role="img"
        aria-label={`Timeline of ${started.length} started tasks over ${dur(span)}`}
      >
        {ticks.map((f) => (
          <g class="tick">
            <line x1={LABEL_W + f * plot} x2={LABEL_W + f * plot} y1="0" y2={height - 14} />
            <text x={LABEL_W + f * plot} y={height - 2} text-anchor={f === 1 ? 'end' : f === 0 ? 'start' : 'middle'}>
              {`+${dur(f * span)}`}
            </text>
          </g>
        ))}
        {started.map((t, i) => {
          const a = x(t.startedAt!)
          const w = Math.max(2, x(t.endedAt ?? now) - a)
          return (
            <g class={`bar rs-${tone(t.status)}`} data-task={t.id}>
              <title>{`${t.id} (${t.role ?? 'no role'}): ${t.status}, ${dur((t.endedAt ?? now) - t.startedAt!)}`}</title>
              <text x={LABEL_W - 6} y={i * ROW + 12} text-anchor="end" class="bar-label">
                {(t.title ?? t.id).slice(0, 28)}
              </text>
              <rect x={a} y={i * ROW + 3} width={w} height={ROW - 5} rx="2" />
            </g>
          )
        })}
      </svg>
      {started.length < tasks.length ? (
        <p class="small muted">{tasks.length - started.length} tasks not started yet.</p>
      ) : null}
    </div>
  )
}
