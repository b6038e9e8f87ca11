/** The backups module's pages: each sub-feature's pages mounted here. */
import { Hono } from 'hono'
import type { AppEnv } from '../../context.ts'
import { snapshotPages } from './snapshots/pages.tsx'
import type { BackupsService } from './snapshots/service.ts'

export function backupsPages(deps: { backups: BackupsService }) {
  const app = new Hono<AppEnv>()
  app.route('/', snapshotPages(deps))
  return app
}
