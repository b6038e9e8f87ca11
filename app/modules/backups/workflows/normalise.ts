/**
 * The normal form of an n8n workflow, and its content hash. Two pulls of an unchanged workflow must
 * hash the same whatever n8n did in between (a new updatedAt or versionId, keys in another order,
 * a node dragged on the canvas), so the hash covers only what changes behaviour: name, active,
 * nodes (without their ids and, unless asked, their positions), connections and settings.
 */
import { createHash } from 'node:crypto'

export type N8nNode = {
  id?: string
  name: string
  type?: string
  position?: unknown
  parameters?: Record<string, unknown>
  [key: string]: unknown
}

/** What is stored and shown of a workflow: n8n's own fields, without the volatile ones. */
export type WorkflowContent = {
  name: string
  active: boolean
  nodes: N8nNode[]
  connections: Record<string, unknown>
  settings: Record<string, unknown>
}

/** Node fields that change without the workflow changing: the node's id (n8n makes new ones on paste), its timestamps. */
const VOLATILE_NODE_KEYS = new Set(['id', 'createdAt', 'updatedAt'])

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The fields of n8n's workflow JSON that are kept; everything else (ids, times, versionId, shared, tags, pinData, staticData) is not. */
export function contentOf(raw: Record<string, unknown>): WorkflowContent {
  return {
    name: typeof raw.name === 'string' ? raw.name : '',
    active: raw.active === true,
    nodes: Array.isArray(raw.nodes) ? (raw.nodes.filter((n) => isObject(n)) as N8nNode[]) : [],
    connections: isObject(raw.connections) ? raw.connections : {},
    settings: isObject(raw.settings) ? raw.settings : {},
  }
}

/** Keys sorted at every depth, so key order never changes the hash. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (!isObject(value)) return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    if (value[key] !== undefined) out[key] = sortKeys(value[key])
  }
  return out
}

/** The hashed form: nodes by name, without volatile keys (and without positions unless `positions`). */
export function normalise(content: WorkflowContent, opts: { positions: boolean }) {
  const nodes = content.nodes
    .map((n) => {
      const kept: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(n)) {
        if (VOLATILE_NODE_KEYS.has(k) || (k === 'position' && !opts.positions)) continue
        kept[k] = v
      }
      return kept
    })
    .sort((a, b) => String(a.name).localeCompare(String(b.name)))
  return sortKeys({ ...content, nodes })
}

export const contentHash = (content: WorkflowContent, opts: { positions: boolean }) =>
  createHash('sha256')
    .update(JSON.stringify(normalise(content, opts)))
    .digest('hex')
