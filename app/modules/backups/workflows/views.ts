/** The JSON shapes of workflow history (times as RFC 3339). */
import type { WorkflowVersion } from '../../../../db/schema/workflow-versions.ts'
import { toIso } from '../../../lib/time.ts'
import type { listWorkflows } from './store.ts'

export const workflowJson = (r: Awaited<ReturnType<typeof listWorkflows>>[number]) => ({
  instance: r.instanceId,
  instanceName: r.instanceName,
  id: r.workflowId,
  name: r.name,
  active: r.active,
  versions: Number(r.versions),
  latest: r.latest,
  lastChangeAt: toIso(r.lastChangeAt),
})

export const versionJson = (r: WorkflowVersion) => ({
  instance: r.instanceId,
  workflowId: r.workflowId,
  version: r.seq,
  name: r.name,
  active: r.active,
  nodes: r.nodeCount,
  hash: r.hash,
  n8nVersionId: r.n8nVersionId,
  author: r.author,
  kind: r.kind,
  restoredVersion: r.restoredSeq,
  changedAt: toIso(r.changedAt),
  createdAt: toIso(r.createdAt),
})
