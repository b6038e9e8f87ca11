import { createServer } from 'node:http'
import { listenLocal, readBody } from './http.ts'

export type FakeN8nRequest = { method: string; path: string; apiKey: string | undefined; body: unknown }

/**
 * A real local HTTP server speaking the part of n8n 1.x's public API the `n8n` healing action uses
 * (checked against n8n 1.123's openapi.yml): `POST /api/v1/executions/:id/retry`,
 * `POST /api/v1/workflows/:id/activate|deactivate` with `X-N8N-API-KEY`, and production webhooks
 * `/webhook/<path>`. Executions and workflows are seeded by the test; every request is recorded.
 */
export async function startFakeN8n(opts: { apiKey: string }) {
  const requests: FakeN8nRequest[] = []
  const executions = new Map<string, { id: string; status: string; workflowId: string }>()
  const workflows = new Map<string, { id: string; name: string; active: boolean }>()
  const webhooks = new Set<string>()
  let nextId = 1000
  const server = createServer(async (req, res) => {
    const { text, json } = await readBody(req)
    const body = text ? (json === undefined ? text : json) : null
    const path = (req.url ?? '').split('?')[0]!
    const apiKey = req.headers['x-n8n-api-key'] as string | undefined
    requests.push({ method: req.method ?? '', path, apiKey, body })
    const send = (status: number, json: unknown) =>
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json))
    if (path.startsWith('/webhook/')) {
      const hook = path.slice('/webhook/'.length)
      return webhooks.has(hook)
        ? send(200, { message: 'Workflow was started' })
        : send(404, { code: 404, message: `The requested webhook "${req.method} ${hook}" is not registered.` })
    }
    if (!path.startsWith('/api/v1/')) return send(404, { message: 'not found' })
    if (apiKey !== opts.apiKey) return send(401, { message: "'X-N8N-API-KEY' header required" })
    let m = /^\/api\/v1\/executions\/([^/]+)\/retry$/.exec(path)
    if (m && req.method === 'POST') {
      const e = executions.get(m[1]!)
      if (!e) return send(404, { message: 'Not Found' })
      if (e.status !== 'error' && e.status !== 'crashed')
        return send(409, { message: `The execution status is ${e.status}, only failed executions can be retried` })
      const id = String(nextId++)
      executions.set(id, { id, status: 'success', workflowId: e.workflowId })
      return send(200, {
        id,
        finished: true,
        mode: 'retry',
        retryOf: e.id,
        status: 'success',
        workflowId: e.workflowId,
      })
    }
    m = /^\/api\/v1\/workflows\/([^/]+)\/(activate|deactivate)$/.exec(path)
    if (m && req.method === 'POST') {
      const w = workflows.get(m[1]!)
      if (!w) return send(404, { message: 'Not Found' })
      w.active = m[2] === 'activate'
      return send(200, { id: w.id, name: w.name, active: w.active })
    }
    return send(404, { message: 'not found' })
  })
  const url = await listenLocal(server)
  return {
    url,
    requests,
    addExecution: (id: string, status: string, workflowId = '1') => void executions.set(id, { id, status, workflowId }),
    addWorkflow: (id: string, name: string, active = false) => void workflows.set(id, { id, name, active }),
    addWebhook: (path: string) => void webhooks.add(path),
    workflow: (id: string) => workflows.get(id),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
