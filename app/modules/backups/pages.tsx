/** The backups module's pages: each sub-feature's pages mounted here. */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { snapshotPages } from './snapshots/pages.tsx'
import { targetPages } from './targets/pages.tsx'
import type { BackupsService } from './snapshots/service.ts'
import type { WorkflowHistory } from './workflows/service.ts'
import { workflowHistoryPages } from './workflows/pages.tsx'

export function backupsPages(deps: ModuleDeps & { backups: BackupsService; workflowHistory: WorkflowHistory }) {
  const app = new Hono<AppEnv>()
  app.route('/', snapshotPages(deps))
  app.route(
    '/',
    targetPages({
      ...deps,
      commands: deps.backups.ctx.commands,
      start: async (target, actor) => (await deps.backups.trigger(target, { trigger: 'manual', actor })).row,
    }),
  )
  app.route('/', workflowHistoryPages(deps))
  return app
}
