/** The backups module's JSON API: each sub-feature's routes mounted here. */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import type { BackupsService } from './snapshots/service.ts'
import { snapshotRoutes } from './snapshots/routes.ts'
import { targetRoutes } from './targets/routes.ts'
import type { WorkflowHistory } from './workflows/service.ts'
import { workflowHistoryRoutes } from './workflows/routes.ts'

export function backupsRoutes(deps: ModuleDeps & { backups: BackupsService; workflowHistory: WorkflowHistory }) {
  const app = new Hono<AppEnv>()
  app.route('/', snapshotRoutes(deps))
  app.route('/', targetRoutes({ ...deps, commands: deps.backups.ctx.commands }))
  app.route('/', workflowHistoryRoutes(deps))
  return app
}
