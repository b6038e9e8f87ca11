/**
 * The task graph's layout, drawn on the server: a small layered (Sugiyama-like) layout that needs no
 * library and gives the same picture for the same run every time. Layers come from the edges
 * (a task sits one layer right of the last task it waits for), the order inside a layer from the
 * mean position of its predecessors (fewer crossings), ties broken by start time then id.
 */

export type GraphTask = {
  id: string
  parentId: string | null
  dependsOn: string[]
  branchOf: string | null
  startedAt: number | null
}

/** `depends`: waits for the other task; `parent`: a sub-task of it; `branch`: made after it failed. */
export type EdgeKind = 'depends' | 'parent' | 'branch'
export type Edge = { from: string; to: string; kind: EdgeKind }
export type Placed = { id: string; layer: number; row: number; x: number; y: number }

export type Layout = {
  nodes: Placed[]
  edges: Edge[]
  width: number
  height: number
  layers: number
}

export const NODE_W = 168
export const NODE_H = 44
const GAP_X = 56
const GAP_Y = 18
const PAD = 12

/** The edges of the graph: dependencies, the parent when no dependency says more, and branches. */
export function edgesOf(tasks: readonly GraphTask[]): Edge[] {
  const known = new Set(tasks.map((t) => t.id))
  const edges: Edge[] = []
  for (const t of tasks) {
    const seen = new Set<string>()
    const add = (from: string | null, kind: EdgeKind) => {
      // An edge to a task not recorded (yet) or to itself has nowhere to start from.
      if (!from || from === t.id || !known.has(from) || seen.has(from)) return
      seen.add(from)
      edges.push({ from, to: t.id, kind })
    }
    add(t.branchOf, 'branch')
    for (const d of t.dependsOn) add(d, 'depends')
    // A parent edge beside dependencies would double the arrows of a big run and say little more.
    if (!seen.size) add(t.parentId, 'parent')
  }
  return edges
}

/**
 * Places each task: layer = longest path from a task with no predecessor, so every edge points
 * right. Clients may send cycles by mistake: a task met again while its own layer is being worked
 * out breaks the cycle there (that edge points back), instead of looping.
 */
export function layoutGraph(tasks: readonly GraphTask[]): Layout {
  const edges = edgesOf(tasks)
  const preds = new Map<string, string[]>()
  for (const t of tasks) preds.set(t.id, [])
  for (const e of edges) preds.get(e.to)!.push(e.from)

  const layer = new Map<string, number>()
  const visiting = new Set<string>()
  // Iterative depth-first walk (a 1,000-task chain must not overflow the stack).
  for (const t of tasks) {
    if (layer.has(t.id)) continue
    const stack: { id: string; i: number }[] = [{ id: t.id, i: 0 }]
    visiting.add(t.id)
    while (stack.length) {
      const top = stack[stack.length - 1]!
      const ps = preds.get(top.id)!
      if (top.i < ps.length) {
        const p = ps[top.i++]!
        if (!layer.has(p) && !visiting.has(p)) {
          visiting.add(p)
          stack.push({ id: p, i: 0 })
        }
        continue
      }
      let l = 0
      for (const p of ps) {
        const pl = layer.get(p)
        if (pl !== undefined) l = Math.max(l, pl + 1)
      }
      layer.set(top.id, l)
      visiting.delete(top.id)
      stack.pop()
    }
  }

  const byLayer: GraphTask[][] = []
  for (const t of tasks) (byLayer[layer.get(t.id)!] ??= []).push(t)
  const rowOf = new Map<string, number>()
  const order = (a: GraphTask, b: GraphTask) =>
    (a.startedAt ?? Number.MAX_SAFE_INTEGER) - (b.startedAt ?? Number.MAX_SAFE_INTEGER) || (a.id < b.id ? -1 : 1)
  for (const group of byLayer) {
    if (!group) continue
    const key = (t: GraphTask) => {
      const ps = preds.get(t.id)!.filter((p) => rowOf.has(p))
      return ps.length ? ps.reduce((s, p) => s + rowOf.get(p)!, 0) / ps.length : -1
    }
    const keyed = group.map((t) => ({ t, k: key(t) }))
    keyed.sort((a, b) => a.k - b.k || order(a.t, b.t))
    for (const [i, { t }] of keyed.entries()) rowOf.set(t.id, i)
  }

  const nodes = tasks.map((t) => {
    const l = layer.get(t.id)!
    const r = rowOf.get(t.id)!
    return { id: t.id, layer: l, row: r, x: PAD + l * (NODE_W + GAP_X), y: PAD + r * (NODE_H + GAP_Y) }
  })
  const layers = byLayer.length
  const rows = Math.max(0, ...byLayer.map((g) => g?.length ?? 0))
  return {
    nodes,
    edges,
    layers,
    width: layers ? 2 * PAD + layers * NODE_W + (layers - 1) * GAP_X : 0,
    height: rows ? 2 * PAD + rows * NODE_H + (rows - 1) * GAP_Y : 0,
  }
}
