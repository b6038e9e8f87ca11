// The n8n module's public face: other modules, the composition root, jobs and the CLI import only this.
export { n8nRoutes } from './routes.ts'
// The workflow validator: pure rules over workflow JSON, and reading an instance's workflows to check them.
export { createWorkflowValidator, type WorkflowValidator } from './validator/instance.ts'
export {
  candidatesOf,
  type Finding,
  failed,
  formatReport,
  type InstanceFacts,
  latestVersions,
  RULES,
  type Report,
  type RuleId,
  validateWorkflows,
} from './validator/index.ts'
export { executionOf, N8nApiError, n8nClient, type N8nClient, type N8nExecution, type N8nTarget } from './api/client.ts'
export { createWorkflowHealth, type WorkflowHealth } from './health/service.ts'
export { workflowHealthRoutes } from './health/routes.ts'
export { workflowHealthPages } from './health/pages.tsx'
// Capped automatic retry of failed executions, for the healing n8n_retry action (given to healing by the root).
export { createN8nRetrier } from './retry/retrier.ts'
export { workflowTiles } from './health/tiles.tsx'
