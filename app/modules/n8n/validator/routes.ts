import { Hono } from 'hono'
import type { AppEnv } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { ValidateBody, type ValidateInput } from './input.ts'
import type { WorkflowValidator } from './instance.ts'
import { failed, validateWorkflows } from './validate.ts'

/**
 * POST /api/v1/n8n/workflows/validate. Operators: it reads workflows (and, with `instance`, calls
 * the instance's API with its key). It changes nothing, so it writes no audit row. The answer is
 * 200 with the report whatever it found; `ok` is what a CI gate reads.
 */
export function validatorRoutes(deps: { workflowValidator: WorkflowValidator }) {
  const app = new Hono<AppEnv>()
  app.post(
    '/api/v1/n8n/workflows/validate',
    access('operator'),
    describe('Validate n8n workflows: one workflow, {workflows: […]} or {instance}; findings by rule and node', [
      'n8n',
    ]),
    validate('json', ValidateBody),
    async (c) => {
      const body = c.req.valid('json') as ValidateInput
      if ('nodes' in body) {
        const report = validateWorkflows([{ source: 'body', json: body }])
        return c.json({ ok: !failed(report), ...report })
      }
      const report = body.instance
        ? await deps.workflowValidator.validateInstance(body.instance, { credentials: body.credentials })
        : validateWorkflows(
            (body.workflows ?? []).map((json, i) => ({ source: `workflows[${i}]`, json })),
            body.credentials ? { credentials: body.credentials } : undefined,
          )
      return c.json({ ok: !failed(report, body.strict), ...report })
    },
  )
  return app
}
