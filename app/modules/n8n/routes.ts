import { Hono } from 'hono'
import type { AppEnv } from '../../context.ts'
import type { WorkflowValidator } from './validator/instance.ts'
import { validatorRoutes } from './validator/routes.ts'

/** The n8n module's API: each sub-feature mounts its own routes file. */
export function n8nRoutes(deps: { workflowValidator: WorkflowValidator }) {
  const app = new Hono<AppEnv>()
  app.route('/', validatorRoutes(deps))
  return app
}
