// The backups module's public face: other modules, the composition root and jobs import only this.
export { backupsPages, backupsRoutes } from './routes.ts'
export { createWorkflowHistory, type WorkflowHistory } from './workflows/service.ts'
export type { BackupDestination } from './destinations/types.ts'
export { policyHandler, S3DestinationConfig, s3Destination } from './destinations/s3.ts'
export type { BackupSource } from './sources/types.ts'
export {
  type BackupCommand,
  type BackupCommands,
  backupCommands,
  CommandTargetConfig,
  checkCommandTarget,
  commandSource,
} from './sources/command.ts'
export { QdrantTargetConfig, qdrantSource } from './sources/qdrant.ts'
