// The backups module's public face: other modules, the composition root, jobs and the CLI import only this.
export { backupsRoutes } from './routes.ts'
export { backupsPages } from './pages.tsx'
export { type BackupsService, createBackups } from './snapshots/service.ts'
export { BACKUP_FAILED, BACKUP_MISSED } from './snapshots/alerts.ts'
export type { BackupSource } from './sources/types.ts'
export type { BackupDestination } from './destinations/types.ts'
export { restoreFromCli, drillFromCli, listForCli } from './snapshots/cli.ts'
export { carryCatalog } from './snapshots/restore.ts'
export { createWorkflowHistory, type WorkflowHistory } from './workflows/service.ts'
export { type RollbackHead, type RollbackResult, rollbackSummary } from './workflows/service.ts'
export { policyHandler, S3DestinationConfig, s3Destination } from './destinations/s3.ts'
export {
  type BackupCommand,
  type BackupCommands,
  backupCommands,
  CommandTargetConfig,
  checkCommandTarget,
  commandSource,
} from './sources/command.ts'
export { QdrantTargetConfig, qdrantSource } from './sources/qdrant.ts'
// The n8n public API client (spaced calls, backoff, through the outbound helper); the n8n module's validator reads with it.
export { backupTiles } from './tiles.tsx'
