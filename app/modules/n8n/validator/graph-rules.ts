/**
 * Rules over the workflow's graph: connections that name missing nodes, orphan nodes, an active
 * workflow with nothing to start it, disabled nodes on a path data takes.
 */
import { isActivatingTrigger, isStickyNote, isTrigger } from './node-kinds.ts'
import type { Checked } from './shape.ts'
import type { Finding } from './types.ts'

type Edge = { from: string; to: string; type: string }

/** Every connection as an edge (any type: main, and the AI sub-node types such as ai_languageModel). */
export function edgesOf({ wf }: Checked): Edge[] {
  const edges: Edge[] = []
  for (const [from, types] of Object.entries(wf.connections))
    for (const [type, outputs] of Object.entries(types))
      for (const targets of outputs) for (const t of targets ?? []) edges.push({ from, to: t.node, type })
  return edges
}

export function connectionRules(c: Checked, edges: Edge[]): Finding[] {
  const findings: Finding[] = []
  const reported = new Set<string>()
  for (const from of Object.keys(c.wf.connections))
    if (!c.byName.has(from)) {
      reported.add(from)
      findings.push({
        rule: 'connection-missing-node',
        severity: 'error',
        node: from,
        message: `connections start at "${from}", which is not a node of this workflow (renamed or deleted?)`,
      })
    }
  for (const e of edges)
    if (!c.byName.has(e.to) && c.byName.has(e.from))
      findings.push({
        rule: 'connection-missing-node',
        severity: 'error',
        node: e.from,
        message: `"${e.from}" connects to "${e.to}", which is not a node of this workflow`,
      })
  return findings
}

/** A node nothing connects to or from, which is neither a trigger nor a sticky note: it never runs. */
export function orphanRules(c: Checked, edges: Edge[]): Finding[] {
  const linked = new Set<string>()
  for (const e of edges) {
    linked.add(e.from)
    linked.add(e.to)
  }
  const findings: Finding[] = []
  for (const node of c.wf.nodes)
    if (!linked.has(node.name) && !isTrigger(node.type) && !isStickyNote(node.type))
      findings.push({
        rule: 'orphan-node',
        severity: 'warning',
        node: node.name,
        message: `"${node.name}" is connected to nothing and is not a trigger: it never runs`,
      })
  return findings
}

export function triggerRules(c: Checked): Finding[] {
  if (!c.wf.active) return []
  if (c.wf.nodes.some((n) => !n.disabled && isActivatingTrigger(n.type))) return []
  return [
    {
      rule: 'active-without-trigger',
      severity: 'error',
      message:
        'the workflow is active but has no enabled trigger that starts it (a manual, error or sub-workflow trigger does not)',
    },
  ]
}

/**
 * A disabled node on a main path: n8n passes the items through it unchanged (or a disabled trigger
 * never fires), so the path runs without the node's work. Often a debugging leftover.
 */
export function disabledRules(c: Checked, edges: Edge[]): Finding[] {
  const into = new Set<string>()
  const out = new Set<string>()
  for (const e of edges) {
    if (e.type !== 'main') continue
    out.add(e.from)
    into.add(e.to)
  }
  const findings: Finding[] = []
  for (const node of c.wf.nodes) {
    if (!node.disabled || !(into.has(node.name) || out.has(node.name))) continue
    const message = isTrigger(node.type)
      ? `"${node.name}" is a disabled trigger with nodes after it: that path never starts`
      : into.has(node.name) && out.has(node.name)
        ? `"${node.name}" is disabled on the main path: items pass through it unchanged`
        : `"${node.name}" is disabled at the end of a path: its work is skipped`
    findings.push({ rule: 'disabled-on-path', severity: 'warning', node: node.name, message })
  }
  return findings
}
