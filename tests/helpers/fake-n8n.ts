import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { listenLocal, readBody } from './http.ts'

export type FakeN8nRequest = { method: string; path: string; apiKey: string | undefined; body: unknown }

export type FakeWorkflow = {
  id: string
  name: string
  active: boolean
  nodes: Record<string, unknown>[]
  connections: Record<string, unknown>
  settings: Record<string, unknown>
  /** Test data pinned to nodes; the list leaves it out when asked (`excludePinnedData=true`), as n8n does. */
  pinData?: Record<string, unknown>
  versionId: string
  updatedAt: string
}

/**
 * An execution as n8n 1.123 keeps it: the list's fields, and `data` (the run data, with
 * `resultData.error` and `resultData.runData[node][i].error` for failures) sent only with
 * `includeData=true`.
 */
export type FakeExecution = {
  id: string
  status: string
  workflowId: string
  mode?: string
  startedAt?: string
  stoppedAt?: string | null
  retryOf?: string | null
  data?: Record<string, unknown>
}

/** What n8n 1.123's `workflow` schema accepts in a create or update body (additionalProperties: false). */
const WRITABLE = new Set(['name', 'nodes', 'connections', 'settings', 'staticData', 'shared'])
const REQUIRED = ['name', 'nodes', 'connections', 'settings']

/**
 * A real local HTTP server speaking the part of n8n 1.x's public API that Homeostat uses (checked
 * against n8n 1.123's openapi.yml and handlers): `POST /api/v1/executions/:id/retry`,
 * `POST /api/v1/workflows/:id/activate|deactivate`, `GET /api/v1/workflows` (limit + cursor
 * paging, `{data, nextCursor}`), `GET|PUT /api/v1/workflows/:id`, `POST /api/v1/workflows`,
 * `GET /api/v1/workflows/:id/:versionId` (the history version with its `authors`), all with
 * `X-N8N-API-KEY`, and production webhooks `/webhook/<path>`. Executions: `GET /api/v1/executions`
 * (newest id first; `limit` ≤ 250, `cursor`, `status`, `workflowId`, `includeData`; running ones left
 * out, as n8n leaves out executions still in progress) and `GET /api/v1/executions/:id`
 * (`includeData=true` adds `data`); `GET /rest/settings` answers n8n's public settings. Executions and workflows
 * are seeded by the test; every request is recorded. `failNext` answers the next API calls with an error
 * status (429, 503…) to test backoff.
 */
export async function startFakeN8n(opts: {
  apiKey: string
  deactivateOnUpdate?: boolean
  /** `versionCli` in the unauthenticated settings, as n8n before 1.x's public settings gave it; 1.123 leaves it out. */
  publicVersion?: string
  /** Where its clock (each save's updatedAt, one second apart) starts; 2026-01-01 by default. */
  startAt?: number
}) {
  const requests: FakeN8nRequest[] = []
  const executions = new Map<string, FakeExecution>()
  const workflows = new Map<string, FakeWorkflow>()
  /** versionId → who saved it (n8n's workflow_history.authors). */
  const authors = new Map<string, string>()
  const webhooks = new Set<string>()
  /** Credential types the instance knows (GET /api/v1/credentials/schema/:type answers 200, else 404). */
  const credentialTypes = new Set<string>()
  const failures: number[] = []
  /** What the next retries end as (default: success). */
  const retryResults: { status: string; data?: Record<string, unknown> }[] = []
  let nextId = 1000
  let clock = opts.startAt ?? Date.parse('2026-01-01T00:00:00Z')
  const stamp = () => new Date((clock += 1000)).toISOString()

  function save(w: Omit<FakeWorkflow, 'versionId' | 'updatedAt'>, author = 'Ada Lovelace') {
    const versionId = randomUUID()
    authors.set(versionId, author)
    const wf = { ...structuredClone(w), versionId, updatedAt: stamp() }
    workflows.set(w.id, wf)
    return wf
  }
  /** n8n's answer for a workflow: the active version's authors come with it, as n8n 1.123 includes `activeVersion`. */
  const view = (w: FakeWorkflow) => ({
    ...w,
    shared: [{ role: 'workflow:owner', workflowId: w.id, projectId: 'p1' }],
    activeVersion: w.active ? { versionId: w.versionId, authors: authors.get(w.versionId) } : null,
    triggerCount: 0,
  })

  const server = createServer(async (req, res) => {
    const { text, json } = await readBody(req)
    const body = text ? (json === undefined ? text : json) : null
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname
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
    if (path === '/rest/settings' && req.method === 'GET')
      return send(200, {
        data: { settingsMode: 'public', ...(opts.publicVersion ? { versionCli: opts.publicVersion } : {}) },
      })
    if (!path.startsWith('/api/v1/')) return send(404, { message: 'not found' })
    if (apiKey !== opts.apiKey) return send(401, { message: "'X-N8N-API-KEY' header required" })
    const failure = failures.shift()
    if (failure) return send(failure, { message: 'failing on purpose' })
    if (path === '/api/v1/executions' && req.method === 'GET') return send(...listExecutions(url.searchParams))
    let m = /^\/api\/v1\/executions\/([^/]+)$/.exec(path)
    if (m && req.method === 'GET') {
      const e = executions.get(m[1]!)
      if (!e) return send(404, { message: 'Not Found' })
      return send(200, executionView(e, url.searchParams.get('includeData') === 'true'))
    }
    m = /^\/api\/v1\/executions\/([^/]+)\/retry$/.exec(path)
    if (m && req.method === 'POST') {
      const e = executions.get(m[1]!)
      if (!e) return send(404, { message: 'Not Found' })
      if (e.status !== 'error' && e.status !== 'crashed')
        return send(409, { message: `The execution status is ${e.status}, only failed executions can be retried` })
      const id = String(nextId++)
      // As n8n 1.123 answers: once the new execution finished, with its status and run data.
      const outcome = retryResults.shift() ?? { status: 'success' }
      executions.set(id, {
        id,
        status: outcome.status,
        workflowId: e.workflowId,
        mode: 'retry',
        retryOf: e.id,
        ...(outcome.data ? { data: outcome.data } : {}),
      })
      return send(200, {
        id,
        finished: outcome.status === 'success',
        mode: 'retry',
        retryOf: e.id,
        status: outcome.status,
        workflowId: e.workflowId,
        ...(outcome.data ? { data: outcome.data } : {}),
      })
    }
    m = /^\/api\/v1\/credentials\/schema\/([^/]+)$/.exec(path)
    if (m && req.method === 'GET')
      return credentialTypes.has(decodeURIComponent(m[1]!))
        ? send(200, { type: 'object', additionalProperties: false, properties: {} })
        : send(404, { message: 'Not Found' })
    m = /^\/api\/v1\/workflows\/([^/]+)\/(activate|deactivate)$/.exec(path)
    if (m && req.method === 'POST') {
      const w = workflows.get(m[1]!)
      if (!w) return send(404, { message: 'Not Found' })
      w.active = m[2] === 'activate'
      return send(200, view(w))
    }
    if (path === '/api/v1/workflows' && req.method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? 100)
      if (!Number.isInteger(limit) || limit < 1 || limit > 250)
        return send(400, { message: 'request/query/limit must be <= 250' })
      const cursor = url.searchParams.get('cursor')
      const offset = cursor ? Number(JSON.parse(Buffer.from(cursor, 'base64').toString()).offset) : 0
      const all = [...workflows.values()]
      const pinned = url.searchParams.get('excludePinnedData') !== 'true'
      const data = all.slice(offset, offset + limit).map((w) => {
        const { pinData, ...rest } = view(w)
        return pinned && pinData ? { ...rest, pinData } : rest
      })
      const next = offset + limit < all.length ? Buffer.from(JSON.stringify({ offset: offset + limit, limit })) : null
      return send(200, { data, nextCursor: next ? next.toString('base64') : null })
    }
    if (path === '/api/v1/workflows' && req.method === 'POST') {
      const problem = bodyProblem(body)
      if (problem) return send(400, { message: problem })
      const b = body as FakeWorkflow
      const id = `new${nextId++}`
      return send(200, view(save({ ...b, id, active: false }, 'API user')))
    }
    m = /^\/api\/v1\/workflows\/([^/]+)\/([^/]+)$/.exec(path)
    if (m && req.method === 'GET') {
      const who = authors.get(m[2]!)
      if (!workflows.has(m[1]!) || who === undefined) return send(404, { message: 'Version not found' })
      return send(200, { versionId: m[2], workflowId: m[1], authors: who })
    }
    m = /^\/api\/v1\/workflows\/([^/]+)$/.exec(path)
    if (m && req.method === 'GET') {
      const w = workflows.get(m[1]!)
      return w ? send(200, view(w)) : send(404, { message: 'Not Found' })
    }
    if (m && req.method === 'PUT') {
      const w = workflows.get(m[1]!)
      if (!w) return send(404, { message: 'Not Found' })
      const problem = bodyProblem(body)
      if (problem) return send(400, { message: problem })
      const b = body as FakeWorkflow
      // n8n merges the settings sent into the ones it has.
      const active = opts.deactivateOnUpdate ? false : w.active
      return send(200, view(save({ ...w, ...b, settings: { ...w.settings, ...b.settings }, active }, 'API user')))
    }
    return send(404, { message: 'not found' })
  })

  /** n8n's execution JSON: `finished` and `waitTill` as it sends them, `data` only when asked for. */
  function executionView(e: FakeExecution, includeData: boolean) {
    const { data, ...rest } = e
    return {
      mode: 'trigger',
      startedAt: new Date(clock).toISOString(),
      stoppedAt: null,
      retryOf: null,
      ...rest,
      finished: e.status === 'success',
      waitTill: null,
      customData: {},
      ...(includeData ? { data: data ?? { resultData: { runData: {} } } } : {}),
    }
  }

  /** GET /api/v1/executions as n8n 1.123 answers it: by id descending, `nextCursor` = base64 {lastId, limit} of a full page. */
  function listExecutions(q: URLSearchParams): [number, unknown] {
    const limit = Number(q.get('limit') ?? 100)
    if (!Number.isInteger(limit) || limit < 1 || limit > 250)
      return [400, { message: 'request/query/limit must be <= 250' }]
    const cursor = q.get('cursor')
    const lastId = cursor
      ? Number(JSON.parse(Buffer.from(cursor, 'base64').toString()).lastId)
      : Number.POSITIVE_INFINITY
    const status = q.get('status')
    const workflowId = q.get('workflowId')
    const rows = [...executions.values()]
      .filter((e) => e.status !== 'running' && Number(e.id) < lastId)
      .filter((e) => (!status || e.status === status) && (!workflowId || e.workflowId === workflowId))
      .sort((a, b) => Number(b.id) - Number(a.id))
      .slice(0, limit)
    const includeData = q.get('includeData') === 'true'
    const next =
      rows.length === limit
        ? Buffer.from(JSON.stringify({ lastId: Number(rows.at(-1)!.id), limit })).toString('base64')
        : null
    return [200, { data: rows.map((e) => executionView(e, includeData)), nextCursor: next }]
  }

  function bodyProblem(body: unknown): string | null {
    if (!body || typeof body !== 'object') return 'request/body must be object'
    for (const k of Object.keys(body))
      if (!WRITABLE.has(k)) return `request/body must NOT have additional properties (${k})`
    for (const k of REQUIRED) if (!(k in body)) return `request/body must have required property '${k}'`
    return null
  }

  const url = await listenLocal(server)
  return {
    url,
    requests,
    addExecution: (id: string, status: string, workflowId = '1', more: Partial<FakeExecution> = {}) =>
      void executions.set(id, { id, status, workflowId, ...more }),
    /** Changes a stored execution (a running one finishing, say). */
    updateExecution: (id: string, change: Partial<FakeExecution>) =>
      void executions.set(id, { ...executions.get(id)!, ...change }),
    execution: (id: string) => executions.get(id),
    executionCount: () => executions.size,
    /** A workflow with a trigger node (or the nodes given); saved as a new n8n version by `author`. */
    addWorkflow: (
      id: string,
      name: string,
      active = false,
      more: Partial<Pick<FakeWorkflow, 'nodes' | 'connections' | 'settings' | 'pinData'>> = {},
      author?: string,
    ) =>
      save(
        {
          id,
          name,
          active,
          nodes: more.nodes ?? [
            {
              id: `${id}-n1`,
              name: 'Start',
              type: 'n8n-nodes-base.manualTrigger',
              typeVersion: 1,
              position: [0, 0],
              parameters: {},
            },
          ],
          connections: more.connections ?? {},
          settings: more.settings ?? { executionOrder: 'v1' },
          ...(more.pinData ? { pinData: more.pinData } : {}),
        },
        author,
      ),
    /** Changes a workflow as an editor in n8n would: a new versionId, a new updatedAt. */
    editWorkflow: (id: string, change: (w: FakeWorkflow) => void, author = 'Ada Lovelace') => {
      const w = structuredClone(workflows.get(id)!)
      change(w)
      return save(w, author)
    },
    deleteWorkflow: (id: string) => void workflows.delete(id),
    addWebhook: (path: string) => void webhooks.add(path),
    addCredentialType: (type: string) => void credentialTypes.add(type),
    workflow: (id: string) => workflows.get(id),
    /** The next retries' new executions end so (`data`: their run data, as a failed execution's). */
    retryResults: (...results: { status: string; data?: Record<string, unknown> }[]) =>
      void retryResults.push(...results),
    /** The next `count` API calls answer `status`. */
    failNext: (status: number, count = 1) => void failures.push(...Array(count).fill(status)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
