/**
 * Rules about what a production workflow should not carry or lack: pinned test data, and an error
 * workflow (without one, n8n's failures of this workflow reach nobody but its execution list).
 */
import { isErrorTrigger } from './node-kinds.ts'
import type { Checked } from './shape.ts'
import type { Finding } from './types.ts'

/** Pinned data is used by manual runs only; left in an export it is stale test data, possibly personal data. */
export function pinnedDataRules(c: Checked): Finding[] {
  const pinned = Object.entries(c.wf.pinData ?? {}).filter(([, items]) => !(Array.isArray(items) && items.length === 0))
  return pinned.map(([node]) => ({
    rule: 'pinned-data' as const,
    severity: 'warning' as const,
    node,
    message: `"${node}" has pinned data left in: test data that manual runs use instead of the node's output`,
  }))
}

export function errorWorkflowRules(c: Checked): Finding[] {
  if (!c.wf.active) return []
  const errorWorkflow = c.wf.settings?.errorWorkflow
  if (typeof errorWorkflow === 'string' && errorWorkflow) return []
  // An error workflow itself (it starts with an Error Trigger) need not have one.
  if (c.wf.nodes.some((n) => isErrorTrigger(n.type))) return []
  return [
    {
      rule: 'no-error-workflow',
      severity: 'warning',
      message: 'the workflow is active but sets no error workflow (settings.errorWorkflow): its failures alert nobody',
    },
  ]
}
