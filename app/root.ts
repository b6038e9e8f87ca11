/**
 * Builds one Homeostat: the services, the scheduler with every job, and the Hono app. The server
 * (app/server.ts) and the tests (tests/helpers/app.ts) both build it here, so a test gets exactly
 * what production gets.
 */
import { registerJobs } from '../jobs/index.ts'
import { createApp } from './app.ts'
import { frontTiles } from './front-tiles.ts'
import type { Deps } from './context.ts'
import { createDiskWatch } from './lib/disk-full.ts'
import { createScheduler, recordJobRuns } from './lib/scheduler.ts'
import { createServices } from './services.ts'

export function createRoot(platform: Omit<Deps, 'scheduler'>) {
  const scheduler = createScheduler({ db: platform.db, log: platform.log, onRun: recordJobRuns(platform.telemetry) })
  const disk = platform.disk ?? createDiskWatch({ dataDir: platform.config.DATA_DIR })
  const services = createServices({ ...platform, scheduler, disk })
  // One tile list for the page and the job that computes the heavy tiles' summaries.
  const tiles = frontTiles(services)
  registerJobs(scheduler, services, tiles)
  const app = createApp(services, tiles)
  return { services, scheduler, app }
}

export type Root = ReturnType<typeof createRoot>
