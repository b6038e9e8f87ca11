// The backups module's public face: other modules, the composition root and jobs import only this.
export { backupsPages, backupsRoutes } from './routes.ts'
export { createWorkflowHistory, type WorkflowHistory } from './workflows/service.ts'
export { type RollbackHead, type RollbackResult, rollbackSummary } from './workflows/service.ts'
