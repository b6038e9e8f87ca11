/** @jsxImportSource hono/jsx */
/**
 * The task graph as SVG, laid out by layout.ts: a box per task coloured by status, solid arrows for
 * dependencies, dotted for parents, dashed for branches made after a failure; a task retried shows
 * its attempt count. Each box links to its detail (a plain link, and htmx swaps it in place).
 */
import type { RunTask } from '../../../../db/schema/runs.ts'
import { layoutGraph, NODE_H, NODE_W } from './layout.ts'
import { tone } from './format.tsx'

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

export function TaskGraph({ runId, tasks }: { runId: string; tasks: RunTask[] }) {
  if (!tasks.length) return <p class="empty">No tasks recorded for this run yet.</p>
  const g = layoutGraph(tasks)
  const at = new Map(g.nodes.map((n) => [n.id, n]))
  const byId = new Map(tasks.map((t) => [t.id, t]))
  const base = `/runs/${encodeURIComponent(runId)}`
  return (
    <div class="run-graph-box">
      <svg
        id="run-graph"
        class="run-graph"
        viewBox={`0 0 ${g.width} ${g.height}`}
        width={g.width}
        height={g.height}
        role="img"
        aria-label={`Task graph: ${tasks.length} tasks in ${g.layers} layers`}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L8,4 L0,8 z" class="arrow-head" />
          </marker>
        </defs>
        {g.edges.map((e) => {
          const a = at.get(e.from)!
          const b = at.get(e.to)!
          const x1 = a.x + NODE_W
          const y1 = a.y + NODE_H / 2
          const x2 = b.x
          const y2 = b.y + NODE_H / 2
          const mid = (x1 + x2) / 2
          return (
            <path
              class={`edge edge-${e.kind}`}
              data-from={e.from}
              data-to={e.to}
              d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}
              marker-end="url(#arrow)"
            />
          )
        })}
        {g.nodes.map((n) => {
          const t = byId.get(n.id)!
          const href = `${base}?task=${encodeURIComponent(t.id)}#task-detail`
          return (
            <a
              href={href}
              class="node-link"
              hx-get={`${base}/tasks/${encodeURIComponent(t.id)}`}
              hx-target="#task-detail"
              hx-swap="outerHTML"
            >
              <g class={`node rs-${tone(t.status)}`} data-task={t.id} data-status={t.status}>
                <title>{`${t.id}: ${t.title ?? ''} (${t.role ?? 'no role'}, ${t.status}, attempt ${t.attempt})`}</title>
                <rect x={n.x} y={n.y} width={NODE_W} height={NODE_H} rx="6" />
                <text x={n.x + 8} y={n.y + 17} class="node-title">
                  {clip(t.title ?? t.id, 22)}
                </text>
                <text x={n.x + 8} y={n.y + 34} class="node-sub">
                  {clip(`${t.role ?? '—'} · ${t.status}`, 22)}
                </text>
                {t.attempt > 1 ? (
                  <text x={n.x + NODE_W - 8} y={n.y + 17} class="node-attempts" text-anchor="end">
                    {`×${t.attempt}`}
                  </text>
                ) : null}
              </g>
            </a>
          )
        })}
      </svg>
      <p class="small muted legend">
        <span class="key edge-depends">depends on</span> <span class="key edge-parent">sub-task of</span>{' '}
        <span class="key edge-branch">branch after a failure</span> · ×N: attempts
      </p>
    </div>
  )
}
