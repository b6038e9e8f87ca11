/**
 * Rule `expression-missing-node`: an expression (a parameter value starting with "=") or a Code
 * node's JavaScript that reads another node by a name no node has. n8n only finds out when the run
 * reaches it ("Referenced node doesn't exist"), typically after someone renamed a node. Nested
 * parameters (collections, fixed collections, lists) are walked whole.
 *
 * The patterns are ours and fixed (not user input), linear on the text: `$('Name')`, `$("Name")`,
 * `` $(`Name`) ``, `$node["Name"]`, `$node['Name']`, `$node.Name`, `$items("Name")`.
 */
import { javaScriptOf } from './node-kinds.ts'
import type { Checked, WorkflowNode } from './shape.ts'
import type { Finding } from './types.ts'

const REFERENCES = [
  /\$\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1\s*\)/g,
  /\$node\[\s*(['"])((?:\\.|(?!\1)[^\\])*)\1\s*\]/g,
  /\$items\(\s*(['"])((?:\\.|(?!\1)[^\\])*)\1/g,
]
const DOT_REFERENCE = /\$node\.([A-Za-z_][\w]*)/g

/** A JavaScript string literal's text: `\'` → `'`, `\\` → `\`. A template literal with `${…}` is not a fixed name. */
const unescape = (s: string) => s.replace(/\\(.)/g, '$1')

/** The node names a piece of expression or code refers to. */
export function referencedNames(text: string): string[] {
  if (!text.includes('$')) return []
  const names: string[] = []
  for (const re of REFERENCES)
    for (const m of text.matchAll(re)) if (!(m[1] === '`' && m[2]!.includes('${'))) names.push(unescape(m[2]!))
  for (const m of text.matchAll(DOT_REFERENCE)) names.push(m[1]!)
  return names
}

/** Every expression string in a parameter tree, depth first. */
function* expressions(value: unknown): Generator<string> {
  if (typeof value === 'string') {
    if (value.startsWith('=')) yield value
  } else if (Array.isArray(value)) {
    for (const item of value) yield* expressions(item)
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) yield* expressions(item)
  }
}

function missingIn(node: WorkflowNode, c: Checked): Set<string> {
  const missing = new Set<string>()
  const look = (text: string) => {
    for (const name of referencedNames(text)) if (!c.byName.has(name)) missing.add(name)
  }
  for (const text of expressions(node.parameters)) look(text)
  const code = javaScriptOf(node.type, node.parameters)
  if (code) look(code)
  return missing
}

export function expressionRules(c: Checked): Finding[] {
  const findings: Finding[] = []
  for (const node of c.wf.nodes)
    for (const name of missingIn(node, c))
      findings.push({
        rule: 'expression-missing-node',
        severity: 'error',
        node: node.name,
        message: `"${node.name}" refers to node "${name}", which does not exist in this workflow`,
      })
  return findings
}
