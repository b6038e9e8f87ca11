import * as v from 'valibot'
import { checkN8nInstanceTarget, findN8nInstance, openN8nApiKey } from './n8n-instances.ts'
import { OutboundError, type OutboundResponse, outboundFetch } from '../../../lib/outbound.ts'
import { ActionError } from '../types.ts'
import { clip, defineAction, positiveMs, REPLY_CHARS, text } from './define.ts'

const Id = v.pipe(
  v.string('must be a string'),
  v.regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be an id (letters, digits, _ and -)'),
)
const common = { timeoutMs: v.optional(positiveMs(120_000)) }
const Params = v.variant(
  'operation',
  [
    v.strictObject({
      operation: v.literal('retry_execution'),
      executionId: Id,
      loadWorkflow: v.optional(v.boolean('must be true or false')),
      ...common,
    }),
    v.strictObject({ operation: v.literal('activate'), workflowId: Id, ...common }),
    v.strictObject({ operation: v.literal('deactivate'), workflowId: Id, ...common }),
    v.strictObject({
      operation: v.literal('run_webhook'),
      webhookPath: v.pipe(
        text(500),
        v.regex(/^[A-Za-z0-9_\-/:.]+$/, 'must be a webhook path (letters, digits, _ - / : .)'),
        v.check((s) => !s.includes('..'), 'must not contain ..'),
      ),
      method: v.optional(v.picklist(['POST', 'GET'], 'must be POST or GET')),
      body: v.optional(v.unknown()),
      test: v.optional(v.boolean('must be true or false')),
      ...common,
    }),
  ],
  'must be one of retry_execution, activate, deactivate, run_webhook',
)
type P = v.InferOutput<typeof Params>

/**
 * n8n's public API (1.x) on a configured instance, with `X-N8N-API-KEY`: retry a failed execution
 * (`POST /api/v1/executions/:id/retry`), activate or deactivate a workflow
 * (`POST /api/v1/workflows/:id/activate|deactivate`), or call a workflow's webhook (`/webhook/<path>`).
 */
export const n8n = defineAction<P>({
  type: 'n8n',
  describe: "n8n: retry a failed execution, activate or deactivate a workflow, or run a workflow's webhook",
  targetIs: 'the name of an n8n instance (POST /api/v1/healing/n8n-instances)',
  paramsSchema: Params,
  check: checkN8nInstanceTarget,
  canHandle: () => true,
  async execute({ deps, params, target }) {
    const instance = await findN8nInstance(deps.db, target)
    if (!instance) throw new ActionError(`no n8n instance named ${target}`, false)
    let apiKey: string
    try {
      apiKey = openN8nApiKey(deps.sealer, instance)
    } catch (error) {
      throw new ActionError((error as Error).message, false)
    }
    const api = (path: string) => `${instance.baseUrl}/api/v1${path}`
    const call =
      params.operation === 'retry_execution'
        ? {
            url: api(`/executions/${params.executionId}/retry`),
            method: 'POST',
            body: JSON.stringify(params.loadWorkflow === undefined ? {} : { loadWorkflow: params.loadWorkflow }),
            key: true,
          }
        : params.operation === 'activate' || params.operation === 'deactivate'
          ? {
              url: api(`/workflows/${params.workflowId}/${params.operation}`),
              method: 'POST',
              body: undefined,
              key: true,
            }
          : {
              url: `${instance.baseUrl}/${params.test ? 'webhook-test' : 'webhook'}/${params.webhookPath.replace(/^\/+/, '')}`,
              method: params.method ?? 'POST',
              body: params.method === 'GET' ? undefined : JSON.stringify(params.body ?? {}),
              key: false,
            }
    const timeoutMs = params.timeoutMs ?? 15_000
    let res: OutboundResponse
    try {
      res = await outboundFetch(deps.outbound, call.url, {
        method: call.method,
        body: call.body,
        headers: {
          Accept: 'application/json',
          'User-Agent': 'homeostat',
          ...(call.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(call.key ? { 'X-N8N-API-KEY': apiKey } : {}),
        },
        timeoutMs,
        // n8n's answer is parsed for a few fields (an execution can be large); the output keeps only those.
        maxBytes: 1024 * 1024,
        maxRedirects: 0,
      })
    } catch (error) {
      const why = error instanceof OutboundError ? error.message : String((error as Error)?.message ?? error)
      throw new ActionError(`n8n ${instance.name} did not answer: ${why}`)
    }
    const raw = res.text()
    let json: unknown = null
    try {
      json = JSON.parse(raw)
    } catch {
      // not JSON
    }
    const summary =
      json && typeof json === 'object' ? pick(json as Record<string, unknown>) : { response: clip(raw, REPLY_CHARS) }
    // 4xx other than 408/429 will not get better by retrying (bad id, bad key, already running).
    if (res.status < 200 || res.status > 299)
      throw new ActionError(
        `n8n ${instance.name} answered HTTP ${res.status}${(json as { message?: string })?.message ? `: ${(json as { message: string }).message}` : ''}`,
        res.status >= 500 || res.status === 408 || res.status === 429,
        { httpStatus: res.status, ...summary },
      )
    return { operation: params.operation, httpStatus: res.status, ...summary }
  },
})

/** The useful fields of n8n's answer (an execution or a workflow). */
function pick(o: Record<string, unknown>) {
  const keys = ['id', 'status', 'finished', 'mode', 'workflowId', 'retryOf', 'active', 'name', 'message']
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))
}
