/**
 * The structured difference between two stored versions of a workflow: what a reviewer asks after a
 * bad save. Nodes are matched by id (n8n keeps a node's id when it is renamed), falling back to the
 * name for nodes without an id; connections are compared as edges after renames are mapped, so a
 * renamed node does not show every edge as removed and added.
 */
import type { N8nNode, WorkflowContent } from './normalise.ts'
import { sortKeys } from './normalise.ts'

export type Change = { path: string; old: unknown; new: unknown }
export type Edge = { from: string; type: string; output: number; to: string; toType: string; input: number }

export type WorkflowDiff = {
  name: { old: string; new: string } | null
  active: { old: boolean; new: boolean } | null
  nodes: {
    added: { name: string; type: string }[]
    removed: { name: string; type: string }[]
    renamed: { id: string; old: string; new: string }[]
    /** Changed fields of nodes present in both, by the node's new name; paths like `parameters.url`. */
    changed: { node: string; changes: Change[] }[]
  }
  connections: { added: Edge[]; removed: Edge[] }
  settings: Change[]
  /** Nothing at all differs (in what the diff looks at). */
  same: boolean
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const same = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))

/**
 * Changes between two JSON values, down to leaves. Arrays are followed item by item only when they
 * hold objects and keep their length; a list of plain values (a position, a list of ids) is one change.
 */
export function changes(a: unknown, b: unknown, path: string, out: Change[] = []): Change[] {
  if (same(a, b)) return out
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      changes(a[key], b[key], path ? `${path}.${key}` : key, out)
    return out
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.some((x) => typeof x === 'object' && x)) {
    for (const [i, item] of a.entries()) changes(item, b[i], `${path}[${i}]`, out)
    return out
  }
  out.push({ path, old: a ?? null, new: b ?? null })
  return out
}

/** n8n's connections ({source: {type: [[{node, type, index}]]}}) as a flat list of edges. */
export function edgesOf(connections: Record<string, unknown>, rename: (name: string) => string = (n) => n): Edge[] {
  const edges: Edge[] = []
  for (const [from, byType] of Object.entries(connections)) {
    if (!isObject(byType)) continue
    for (const [type, outputs] of Object.entries(byType)) {
      if (!Array.isArray(outputs)) continue
      outputs.forEach((targets, output) => {
        if (!Array.isArray(targets)) return
        for (const t of targets) {
          if (!isObject(t)) continue
          edges.push({
            from: rename(from),
            type,
            output,
            to: rename(String(t.node)),
            toType: String(t.type ?? type),
            input: Number(t.index ?? 0),
          })
        }
      })
    }
  }
  return edges
}

const edgeKey = (e: Edge) => JSON.stringify([e.from, e.type, e.output, e.to, e.toType, e.input])
const brief = (n: N8nNode) => ({ name: n.name, type: String(n.type ?? '') })

export function diffWorkflows(a: WorkflowContent, b: WorkflowContent, opts: { positions: boolean }): WorkflowDiff {
  const ignored = new Set(['id', 'name', 'createdAt', 'updatedAt', ...(opts.positions ? [] : ['position'])])
  const bById = new Map(b.nodes.filter((n) => n.id).map((n) => [n.id!, n]))
  const bByName = new Map(b.nodes.map((n) => [n.name, n]))
  const matched = new Set<N8nNode>()
  const pairs: [N8nNode, N8nNode][] = []
  const removed: N8nNode[] = []
  for (const old of a.nodes) {
    const byId = old.id ? bById.get(old.id) : undefined
    const byName = bByName.get(old.name)
    const twin = byId ?? (byName && !matched.has(byName) && !(old.id && byName.id) ? byName : undefined)
    if (twin && !matched.has(twin)) {
      matched.add(twin)
      pairs.push([old, twin])
    } else removed.push(old)
  }
  const renamed = pairs
    .filter(([o, n]) => o.name !== n.name)
    .map(([o, n]) => ({ id: String(n.id ?? o.id ?? ''), old: o.name, new: n.name }))
  const renames = new Map(renamed.map((r) => [r.old, r.new]))
  const changed = pairs
    .map(([o, n]) => {
      const strip = (x: N8nNode) => Object.fromEntries(Object.entries(x).filter(([k]) => !ignored.has(k)))
      return { node: n.name, changes: changes(strip(o), strip(n), '') }
    })
    .filter((c) => c.changes.length > 0)
  const oldEdges = edgesOf(a.connections, (n) => renames.get(n) ?? n)
  const newEdges = edgesOf(b.connections)
  const oldKeys = new Set(oldEdges.map(edgeKey))
  const newKeys = new Set(newEdges.map(edgeKey))
  const diff: Omit<WorkflowDiff, 'same'> = {
    name: a.name !== b.name ? { old: a.name, new: b.name } : null,
    active: a.active !== b.active ? { old: a.active, new: b.active } : null,
    nodes: {
      added: b.nodes.filter((n) => !matched.has(n)).map(brief),
      removed: removed.map(brief),
      renamed,
      changed,
    },
    connections: {
      added: newEdges.filter((e) => !oldKeys.has(edgeKey(e))),
      removed: oldEdges.filter((e) => !newKeys.has(edgeKey(e))),
    },
    settings: changes(a.settings, b.settings, ''),
  }
  const n = diff.nodes
  const empty =
    !diff.name &&
    !diff.active &&
    !n.added.length &&
    !n.removed.length &&
    !n.renamed.length &&
    !n.changed.length &&
    !diff.connections.added.length &&
    !diff.connections.removed.length &&
    !diff.settings.length
  return { ...diff, same: empty }
}
