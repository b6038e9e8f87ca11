// The n8n module's public face: other modules, the composition root and jobs import only this.
export { executionOf, N8nApiError, n8nClient, type N8nClient, type N8nExecution, type N8nTarget } from './api/client.ts'
export { createWorkflowHealth, type WorkflowHealth } from './health/service.ts'
export { workflowHealthRoutes } from './health/routes.ts'
export { workflowHealthPages } from './health/pages.tsx'
