/** The backups module's JSON API: each sub-feature's routes mounted here. */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import type { BackupsService } from './snapshots/service.ts'
import { snapshotRoutes } from './snapshots/routes.ts'
import { targetRoutes } from './targets/routes.ts'

export function backupsRoutes(deps: ModuleDeps & { backups: BackupsService }) {
  const app = new Hono<AppEnv>()
  app.route('/', snapshotRoutes(deps))
  app.route('/', targetRoutes(deps))
  return app
}
