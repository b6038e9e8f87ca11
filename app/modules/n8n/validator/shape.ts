/**
 * Rule `shape`: the workflow JSON has the form n8n imports (checked against n8n 1.123's workflow
 * schema and what its editor exports). Loose objects: n8n adds fields between versions (meta,
 * tags, versionId…), and a validator that refused them would fail every newer export. Node names
 * must be unique, because connections and expressions refer to nodes by name.
 */
import * as v from 'valibot'
import { issuesToDetails } from '../../../lib/validate.ts'
import type { Finding } from './types.ts'

const Text = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'))

const Node = v.looseObject({
  name: Text,
  type: Text,
  typeVersion: v.number('must be a number'),
  position: v.tuple([v.number('must be a number'), v.number('must be a number')], 'must be [x, y]'),
  parameters: v.optional(v.record(v.string(), v.unknown(), 'must be an object'), {}),
  disabled: v.optional(v.boolean('must be true or false')),
  credentials: v.optional(
    v.record(
      v.string(),
      v.looseObject({ id: v.optional(v.nullable(v.string('must be a string'))), name: v.string('must be a string') }),
      'must be an object of {id, name}',
    ),
  ),
})

const Target = v.looseObject({
  node: v.string('must be a node name'),
  type: v.string('must be a connection type'),
  index: v.number('must be a number'),
})

/** connections: source node name → connection type (main, ai_tool…) → output index → targets (n8n writes null for an empty output). */
const Connections = v.record(
  v.string(),
  v.record(v.string(), v.array(v.nullable(v.array(Target, 'must be a list')), 'must be a list'), 'must be an object'),
  'must be an object',
)

export const WorkflowShape = v.looseObject({
  id: v.optional(v.union([v.string(), v.number()], 'must be a string')),
  name: v.string('must be a string'),
  active: v.optional(v.boolean('must be true or false'), false),
  nodes: v.array(Node, 'must be a list of nodes'),
  connections: Connections,
  settings: v.optional(v.nullable(v.record(v.string(), v.unknown(), 'must be an object'))),
  pinData: v.optional(v.nullable(v.record(v.string(), v.unknown(), 'must be an object'))),
})

export type Workflow = v.InferOutput<typeof WorkflowShape>
export type WorkflowNode = Workflow['nodes'][number]
/** A workflow whose shape passed, with its nodes indexed by name for the rules. */
export type Checked = { wf: Workflow; byName: Map<string, WorkflowNode> }

/** At most this many shape findings per workflow: a file that is not a workflow at all says so in a few lines. */
const MAX_SHAPE_FINDINGS = 10

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const isText = (x: unknown) => typeof x === 'string' && x.length > 0
const optional = (x: unknown, test: (x: unknown) => boolean) => x === undefined || test(x)

function quickNode(n: unknown): boolean {
  if (!isObj(n) || !isText(n.name) || !isText(n.type) || typeof n.typeVersion !== 'number') return false
  const p = n.position
  if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number' || typeof p[1] !== 'number') return false
  if (!optional(n.parameters, isObj) || !optional(n.disabled, (d) => typeof d === 'boolean')) return false
  if (n.credentials === undefined) return true
  if (!isObj(n.credentials)) return false
  for (const c of Object.values(n.credentials))
    if (!isObj(c) || typeof c.name !== 'string' || !(c.id === undefined || c.id === null || typeof c.id === 'string'))
      return false
  return true
}

function quickConnections(connections: unknown): boolean {
  if (!isObj(connections)) return false
  for (const types of Object.values(connections)) {
    if (!isObj(types)) return false
    for (const outputs of Object.values(types)) {
      if (!Array.isArray(outputs)) return false
      for (const targets of outputs) {
        if (targets === null) continue
        if (!Array.isArray(targets)) return false
        for (const t of targets)
          if (!isObj(t) || typeof t.node !== 'string' || typeof t.type !== 'string' || typeof t.index !== 'number')
            return false
      }
    }
  }
  return true
}

/**
 * The common case without valibot's copy of every parameter tree: a plain walk that accepts only
 * what WorkflowShape accepts (stricter is fine: anything it refuses goes through the schema for its
 * messages), as app/lib/validate.ts's `fast` checks do for hot routes.
 */
function quickShape(json: Record<string, unknown>): Workflow | null {
  if (typeof json.name !== 'string' || !optional(json.active, (a) => typeof a === 'boolean')) return null
  if (!optional(json.id, (id) => typeof id === 'string' || typeof id === 'number')) return null
  if (!optional(json.settings, (x) => x === null || isObj(x)) || !optional(json.pinData, (x) => x === null || isObj(x)))
    return null
  if (!Array.isArray(json.nodes) || !json.nodes.every(quickNode) || !quickConnections(json.connections)) return null
  const nodes = json.nodes.map((n) => (n.parameters === undefined ? { ...n, parameters: {} } : n))
  return { ...json, active: json.active === true, nodes } as Workflow
}

/** The workflow if its shape holds (for the other rules), and the shape findings either way. */
export function checkShape(json: unknown): { checked: Checked | null; findings: Finding[] } {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return {
      checked: null,
      findings: [{ rule: 'shape', severity: 'error', message: 'a workflow must be a JSON object' }],
    }
  const quick = quickShape(json as Record<string, unknown>)
  const parsed = quick ? ({ success: true, output: quick } as const) : v.safeParse(WorkflowShape, json)
  if (!parsed.success) {
    const findings = issuesToDetails(parsed.issues)
      .slice(0, MAX_SHAPE_FINDINGS)
      // valibot says "Invalid key: Expected "x" but received undefined" for a missing field.
      .map((d): Finding => {
        const message = d.message.startsWith('Invalid key') ? 'is missing' : d.message
        return { rule: 'shape', severity: 'error', message: `${d.field}: ${message}` }
      })
    return { checked: null, findings }
  }
  const wf = parsed.output
  const byName = new Map<string, WorkflowNode>()
  const findings: Finding[] = []
  for (const node of wf.nodes) {
    if (byName.has(node.name))
      findings.push({
        rule: 'shape',
        severity: 'error',
        node: node.name,
        message: `two nodes are named "${node.name}": connections and expressions cannot tell them apart`,
      })
    else byName.set(node.name, node)
  }
  return { checked: { wf, byName }, findings }
}
