/**
 * The part of n8n's public API (1.x, checked against 1.123's openapi.yml and handlers) that
 * Homeostat uses, over the outbound helper: list workflows by cursor, read one, read one history
 * version (for its authors), update, create, activate (workflow history, in backups); list
 * executions by cursor and read one with its data (workflow health, here). It lives in the n8n
 * module and both use it through n8n/index.ts. Calls to one instance are spaced (at most
 * `maxRps` a second) and a 429 or 5xx answer is retried with exponential backoff, honouring
 * Retry-After, so a pull of many workflows never floods an instance that is already struggling.
 */
import { type OutboundPolicy, OutboundError, outboundFetch } from '../../../lib/outbound.ts'

/** An execution as n8n's list gives it (`includeData=false`); the fields Homeostat reads. */
export type N8nExecution = {
  id: string
  workflowId: string
  status: string
  mode: string | null
  startedAt: number | null
  stoppedAt: number | null
  retryOf: string | null
}

const msOf = (v: unknown) => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN
  return Number.isFinite(t) ? t : null
}

/** n8n's execution JSON → the fields kept; null when it has no id or workflow. */
export function executionOf(raw: unknown): N8nExecution | null {
  if (!raw || typeof raw !== 'object') return null
  const r = raw as Record<string, unknown>
  if (r.id === undefined || r.id === null || r.workflowId === undefined || r.workflowId === null) return null
  // n8n 1.x always sends `status`; older answers only had `finished`.
  const status = typeof r.status === 'string' ? r.status : r.finished === true ? 'success' : 'unknown'
  return {
    id: String(r.id),
    workflowId: String(r.workflowId),
    status,
    mode: typeof r.mode === 'string' ? r.mode : null,
    startedAt: msOf(r.startedAt),
    stoppedAt: msOf(r.stoppedAt),
    retryOf: r.retryOf === undefined || r.retryOf === null ? null : String(r.retryOf),
  }
}

export type N8nTarget = { name: string; baseUrl: string; apiKey: string }

export type N8nCallDeps = {
  outbound: OutboundPolicy
  /** Most calls a second to one instance. */
  maxRps: number
  /** First backoff after a 429/5xx; doubles each retry. */
  backoffMs: number
  /** Retries after the first attempt. */
  retries: number
  sleep?: (ms: number) => Promise<void>
}

/** Why a call gave no usable answer: the instance could not be reached, or answered an error status. */
export class N8nApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message)
    this.name = 'N8nApiError'
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
/** A page of 100 workflows with their nodes can be large; one page is read whole (n8n has no streaming list). */
const MAX_PAGE_BYTES = 64 * 1024 * 1024
const MAX_RETRY_AFTER_MS = 60_000

/** A client for one instance; counts its calls (for the pull's result and the benchmark). */
export function n8nClient(target: N8nTarget, deps: N8nCallDeps) {
  const sleep = deps.sleep ?? realSleep
  const spacing = Math.ceil(1000 / deps.maxRps)
  let last = 0
  let calls = 0

  async function call(
    method: string,
    path: string,
    body?: unknown,
    prefix = '/api/v1',
  ): Promise<{ status: number; json: unknown }> {
    for (let attempt = 0; ; attempt++) {
      const wait = last + spacing - Date.now()
      if (wait > 0) await sleep(wait)
      last = Date.now()
      calls++
      let res: Awaited<ReturnType<typeof outboundFetch>>
      try {
        res = await outboundFetch(deps.outbound, `${target.baseUrl}${prefix}${path}`, {
          method,
          headers: {
            Accept: 'application/json',
            'User-Agent': 'homeostat',
            'X-N8N-API-KEY': target.apiKey,
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          timeoutMs: 30_000,
          maxBytes: MAX_PAGE_BYTES,
          maxRedirects: 0,
        })
      } catch (error) {
        const why = error instanceof OutboundError ? error.message : String((error as Error)?.message ?? error)
        throw new N8nApiError(`n8n ${target.name} is unreachable: ${why}`, null)
      }
      const retryable = res.status === 429 || res.status >= 500
      if (retryable && attempt < deps.retries) {
        const after = Number(res.headers.get('retry-after'))
        const backoff = deps.backoffMs * 2 ** attempt
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, MAX_RETRY_AFTER_MS) : backoff)
        continue
      }
      if (res.truncated) throw new N8nApiError(`n8n ${target.name} answered more than ${MAX_PAGE_BYTES} bytes`, null)
      let json: unknown = null
      try {
        json = JSON.parse(res.text())
      } catch {
        // not JSON: the status tells
      }
      return { status: res.status, json }
    }
  }

  /** Throws unless 2xx, with n8n's message. */
  async function ok(method: string, path: string, body?: unknown) {
    const { status, json } = await call(method, path, body)
    if (status >= 200 && status < 300) return json
    const message = (json as { message?: unknown } | null)?.message
    throw new N8nApiError(
      `n8n ${target.name} answered HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`,
      status,
    )
  }

  return {
    calls: () => calls,
    /**
     * Every workflow, page by page. Pin data is left out (it is test data, and can be large) unless
     * asked for: the validator reports pinned data left in.
     */
    async *workflows(pageSize = 100, opts: { pinnedData?: boolean } = {}): AsyncGenerator<Record<string, unknown>> {
      let cursor: string | null = null
      do {
        const q = new URLSearchParams({ limit: String(pageSize), excludePinnedData: String(!opts.pinnedData) })
        if (cursor) q.set('cursor', cursor)
        const page = (await ok('GET', `/workflows?${q}`)) as { data?: unknown; nextCursor?: unknown } | null
        if (!page || !Array.isArray(page.data)) throw new N8nApiError(`n8n ${target.name} sent no workflow list`, null)
        for (const w of page.data) if (w && typeof w === 'object') yield w as Record<string, unknown>
        cursor = typeof page.nextCursor === 'string' && page.nextCursor ? page.nextCursor : null
      } while (cursor)
    },
    /** One workflow, or null when n8n says it does not exist (404). */
    async workflow(id: string): Promise<Record<string, unknown> | null> {
      const { status, json } = await call('GET', `/workflows/${encodeURIComponent(id)}?excludePinnedData=true`)
      if (status === 404) return null
      if (status >= 200 && status < 300 && json && typeof json === 'object') return json as Record<string, unknown>
      throw new N8nApiError(`n8n ${target.name} answered HTTP ${status}`, status)
    },
    /** Who saved a version, from n8n's workflow history (`authors`); null when n8n does not say. */
    async authors(id: string, versionId: string): Promise<string | null> {
      const { status, json } = await call(
        'GET',
        `/workflows/${encodeURIComponent(id)}/${encodeURIComponent(versionId)}`,
      )
      const authors = (json as { authors?: unknown } | null)?.authors
      return status === 200 && typeof authors === 'string' && authors ? authors : null
    },
    /**
     * Whether the instance knows a credential type (GET /credentials/schema/{type}: 404 when it does
     * not). n8n 1.123's public API cannot list credentials, so this is what it can tell about them.
     */
    async credentialTypeKnown(type: string): Promise<boolean> {
      const { status } = await call('GET', `/credentials/schema/${encodeURIComponent(type)}`)
      if (status === 404) return false
      if (status >= 200 && status < 300) return true
      throw new N8nApiError(`n8n ${target.name} answered HTTP ${status} for credential type ${type}`, status)
    },
    /**
     * One page of executions, newest first (n8n orders them by id, descending), without their data.
     * n8n leaves out executions still running; they show up in a later page once finished.
     */
    async executions(opts: { cursor?: string | null; limit?: number; status?: string; workflowId?: string } = {}) {
      const q = new URLSearchParams({ limit: String(opts.limit ?? 250), includeData: 'false' })
      if (opts.cursor) q.set('cursor', opts.cursor)
      if (opts.status) q.set('status', opts.status)
      if (opts.workflowId) q.set('workflowId', opts.workflowId)
      const page = (await ok('GET', `/executions?${q}`)) as { data?: unknown; nextCursor?: unknown } | null
      if (!page || !Array.isArray(page.data)) throw new N8nApiError(`n8n ${target.name} sent no execution list`, null)
      const items: N8nExecution[] = []
      for (const raw of page.data) {
        const e = executionOf(raw)
        if (e) items.push(e)
      }
      const nextCursor = typeof page.nextCursor === 'string' && page.nextCursor ? page.nextCursor : null
      return { items, nextCursor }
    },
    /** One execution with its run data (what a failure is classified from), or null when gone (404). */
    async execution(id: string): Promise<Record<string, unknown> | null> {
      const { status, json } = await call('GET', `/executions/${encodeURIComponent(id)}?includeData=true`)
      if (status === 404) return null
      if (status >= 200 && status < 300 && json && typeof json === 'object') return json as Record<string, unknown>
      throw new N8nApiError(`n8n ${target.name} answered HTTP ${status}`, status)
    },
    /**
     * n8n's version, from the settings its own UI reads before sign-in (`/rest/settings`,
     * `versionCli`): the public API has no version call. n8n 1.x (1.123 checked) leaves the version
     * out of those public settings, so this is null there; older instances still tell.
     */
    async version(): Promise<string | null> {
      const { status, json } = await call('GET', '/settings', undefined, '/rest')
      const data = (json as { data?: { versionCli?: unknown } } | null)?.data
      return status === 200 && typeof data?.versionCli === 'string' ? data.versionCli : null
    },
    update: (id: string, body: unknown) =>
      ok('PUT', `/workflows/${encodeURIComponent(id)}`, body) as Promise<Record<string, unknown>>,
    create: (body: unknown) => ok('POST', '/workflows', body) as Promise<Record<string, unknown>>,
    activate: (id: string) => ok('POST', `/workflows/${encodeURIComponent(id)}/activate`, {}),
    /**
     * Retries a failed execution (`POST /executions/:id/retry`). n8n answers once the new execution
     * has finished, with its status and run data, so the outcome is known from this one call. Give
     * this client `retries: 0`: a retried POST could run the workflow twice.
     */
    retry: (id: string) =>
      ok('POST', `/executions/${encodeURIComponent(id)}/retry`, {}) as Promise<Record<string, unknown>>,
  }
}

export type N8nClient = ReturnType<typeof n8nClient>
