import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import type { WorkflowHistory } from './workflows/service.ts'
import { workflowHistoryRoutes } from './workflows/routes.ts'
import { workflowHistoryPages } from './workflows/pages.tsx'

/** The backups module's API: each sub-feature mounts its own routes file. */
export function backupsRoutes(deps: ModuleDeps & { workflowHistory: WorkflowHistory }) {
  const app = new Hono<AppEnv>()
  app.route('/', workflowHistoryRoutes(deps))
  return app
}

/** The backups module's pages. */
export function backupsPages(deps: ModuleDeps & { workflowHistory: WorkflowHistory }) {
  const app = new Hono<AppEnv>()
  app.route('/', workflowHistoryPages(deps))
  return app
}
