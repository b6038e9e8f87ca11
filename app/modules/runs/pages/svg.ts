/**
 * The run page's two large pictures, the task graph and the timeline, written as SVG text. A run of
 * 1,000 tasks is about 10,000 elements: building them as strings is several times faster than
 * rendering JSX nodes, and the page must stay well under 100 ms. Every text that came from a client
 * (ids, titles, roles) goes through `esc`.
 */
import type { RunTask } from '../../../../db/schema/runs.ts'
import { dur, tone } from './format.tsx'
import { layoutGraph, NODE_H, NODE_W } from './layout.ts'

/** What the pictures and the task table read of a task (no artifacts: those load with the detail). */
export type PageTask = Pick<
  RunTask,
  | 'id'
  | 'role'
  | 'title'
  | 'parentId'
  | 'dependsOn'
  | 'branchOf'
  | 'depth'
  | 'attempt'
  | 'status'
  | 'startedAt'
  | 'endedAt'
  | 'model'
  | 'costUsd'
  | 'failureClass'
>

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
/** Escapes text and attribute values alike. */
export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!)
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

/**
 * The task graph, laid out by layout.ts: a box per task coloured by status, solid arrows for
 * dependencies, dotted for parents, dashed for branches made after a failure; a retried task shows
 * its attempt count. Each box is a link to the page with its detail (public/runs-run.js swaps the
 * detail in place instead).
 */
export function graphSvg(runId: string, tasks: readonly PageTask[]): string {
  const g = layoutGraph(tasks)
  const at = new Map(g.nodes.map((n) => [n.id, n]))
  const out: string[] = [
    `<svg id="run-graph" class="run-graph" viewBox="0 0 ${g.width} ${g.height}" width="${g.width}" height="${g.height}"`,
    ` role="img" aria-label="Task graph: ${tasks.length} tasks in ${g.layers} layers">`,
    '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">',
    '<path d="M0,0 L8,4 L0,8 z" class="arrow-head"/></marker></defs>',
  ]
  for (const e of g.edges) {
    const a = at.get(e.from)!
    const b = at.get(e.to)!
    const x1 = a.x + NODE_W
    const y1 = a.y + NODE_H / 2
    const x2 = b.x
    const y2 = b.y + NODE_H / 2
    const mid = (x1 + x2) / 2
    out.push(
      `<path class="edge edge-${e.kind}" data-from="${esc(e.from)}" data-to="${esc(e.to)}"`,
      ` d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`,
    )
  }
  const base = `/runs/${encodeURIComponent(runId)}`
  tasks.forEach((t, i) => {
    const n = g.nodes[i]!
    const id = esc(t.id)
    out.push(
      `<a href="${base}?task=${esc(encodeURIComponent(t.id))}#task-detail" class="node-link">`,
      `<g class="node rs-${tone(t.status)}" data-task="${id}" data-status="${t.status}">`,
      `<title>${id}: ${esc(t.title ?? '')} (${esc(t.role ?? 'no role')}, ${t.status}, attempt ${t.attempt})</title>`,
      `<rect x="${n.x}" y="${n.y}" width="${NODE_W}" height="${NODE_H}" rx="6"/>`,
      `<text x="${n.x + 8}" y="${n.y + 17}" class="node-title">${esc(clip(t.title ?? t.id, 22))}</text>`,
      `<text x="${n.x + 8}" y="${n.y + 34}" class="node-sub">${esc(clip(`${t.role ?? '—'} · ${t.status}`, 24))}</text>`,
      t.attempt > 1
        ? `<text x="${n.x + NODE_W - 8}" y="${n.y + 17}" class="node-attempts" text-anchor="end">×${t.attempt}</text>`
        : '',
      '</g></a>',
    )
  })
  out.push('</svg>')
  return out.join('')
}

const ROW = 16
const LABEL_W = 180
const WIDTH = 900

/**
 * The run's timeline (a Gantt chart): one bar per started task on a shared time axis, in start
 * order, coloured by status; a task still running reaches to now. Tasks never started are counted
 * under it, not drawn.
 */
export function timelineSvg(tasks: readonly PageTask[], now: number): { svg: string; started: number } {
  const started = tasks.filter((t) => t.startedAt != null)
  if (!started.length) return { svg: '', started: 0 }
  let t0 = Number.POSITIVE_INFINITY
  let t1 = Number.NEGATIVE_INFINITY
  for (const t of started) {
    t0 = Math.min(t0, t.startedAt!)
    t1 = Math.max(t1, t.endedAt ?? now)
  }
  const span = Math.max(1, t1 - t0)
  const plot = WIDTH - LABEL_W - 8
  const x = (ms: number) => Math.round((LABEL_W + ((ms - t0) / span) * plot) * 10) / 10
  const height = started.length * ROW + 20
  const out: string[] = [
    `<svg id="run-timeline" class="run-timeline" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}"`,
    ` role="img" aria-label="Timeline of ${started.length} started tasks over ${esc(dur(span))}">`,
  ]
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const tx = LABEL_W + f * plot
    const anchor = f === 1 ? 'end' : f === 0 ? 'start' : 'middle'
    out.push(
      `<g class="tick"><line x1="${tx}" x2="${tx}" y1="0" y2="${height - 14}"/>`,
      `<text x="${tx}" y="${height - 2}" text-anchor="${anchor}">+${esc(dur(f * span))}</text></g>`,
    )
  }
  started.forEach((t, i) => {
    const a = x(t.startedAt!)
    const w = Math.max(2, x(t.endedAt ?? now) - a)
    const id = esc(t.id)
    // No link or tooltip per bar (the graph and the list have them): a click opens the detail by script.
    out.push(
      `<g class="bar rs-${tone(t.status)}" data-task="${id}">`,
      `<text x="${LABEL_W - 6}" y="${i * ROW + 12}" text-anchor="end" class="bar-label">`,
      `${esc((t.title ?? t.id).slice(0, 28))}</text>`,
      `<rect x="${a}" y="${i * ROW + 3}" width="${w}" height="${ROW - 5}" rx="2"/></g>`,
    )
  })
  out.push('</svg>')
  return { svg: out.join(''), started: started.length }
}
