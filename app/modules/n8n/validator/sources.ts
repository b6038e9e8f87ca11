/**
 * Workflows out of the JSON people have: one n8n workflow (the editor's download, `n8n
 * export:workflow --separate`), a list of them (`n8n export:workflow --all`), `{workflows: […]}`,
 * or a file of Homeostat's workflow history export (`{instance, workflowId, version, workflow}`).
 * A folder of history exports holds every version of a workflow; only the latest of each is
 * checked unless all versions are asked for (old versions are history, not what runs).
 */
import type { Candidate } from './types.ts'

type Versioned = Candidate & { key?: string; version?: number }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The workflows in one parsed JSON document; `source` names it in the report (`file.json`, `file.json[3]`). */
export function candidatesOf(json: unknown, source: string): Versioned[] {
  if (Array.isArray(json)) return json.map((item, i) => ({ source: `${source}[${i}]`, json: item }))
  if (isObject(json) && Array.isArray(json.workflows) && !('nodes' in json))
    return json.workflows.map((item, i) => ({ source: `${source}[${i}]`, json: item }))
  if (isObject(json) && isObject(json.workflow) && 'workflowId' in json) {
    // The history export keeps the workflow's id beside its content.
    const workflow = { ...json.workflow, id: json.workflowId }
    return [
      {
        source,
        json: workflow,
        key: `${String(json.instance ?? '')}\u0000${String(json.workflowId)}`,
        version: typeof json.version === 'number' ? json.version : 0,
      },
    ]
  }
  return [{ source, json }]
}

/** Keeps the highest version of each history-exported workflow; everything else stays as it is, in order. */
export function latestVersions(candidates: Versioned[]): Candidate[] {
  const best = new Map<string, Versioned>()
  for (const c of candidates)
    if (c.key !== undefined && (best.get(c.key)?.version ?? -1) < (c.version ?? 0)) best.set(c.key, c)
  return candidates
    .filter((c) => c.key === undefined || best.get(c.key) === c)
    .map(({ source, json }) => ({ source, json }))
}
