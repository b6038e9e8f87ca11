/**
 * The body n8n 1.x's public API takes to create or update a workflow. Its schema (openapi.yml,
 * `workflow`, `node`, `workflowSettings`) refuses unknown and read-only properties
 * (`additionalProperties: false`; id, active, createdAt, updatedAt, tags are read-only), so only the
 * documented fields are sent. n8n merges the settings sent into the ones it has: a setting added
 * after the version being restored stays.
 */
import type { WorkflowContent } from './normalise.ts'

const NODE_KEYS = [
  'id',
  'name',
  'webhookId',
  'disabled',
  'notesInFlow',
  'notes',
  'type',
  'typeVersion',
  'executeOnce',
  'alwaysOutputData',
  'retryOnFail',
  'maxTries',
  'waitBetweenTries',
  'continueOnFail',
  'onError',
  'position',
  'parameters',
  'credentials',
] as const

const SETTINGS_KEYS = [
  'saveExecutionProgress',
  'saveManualExecutions',
  'saveDataErrorExecution',
  'saveDataSuccessExecution',
  'executionTimeout',
  'errorWorkflow',
  'timezone',
  'executionOrder',
  'callerPolicy',
  'callerIds',
  'timeSavedPerExecution',
  'availableInMCP',
] as const

const pick = (o: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))

export const rollbackBody = (c: WorkflowContent) => ({
  name: c.name,
  nodes: c.nodes.map((n) => pick(n, NODE_KEYS)),
  connections: c.connections,
  settings: pick(c.settings, SETTINGS_KEYS),
})
