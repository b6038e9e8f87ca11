/**
 * The part of n8n our nodes talk to, for running their real `execute`, hook and webhook methods
 * against the real app on a real port (n8n is the outside thing here; the nodes are never mocked).
 * `httpRequestWithAuthentication` does what n8n 1.x's does for the options the nodes use: it applies
 * the credential type's `authenticate` headers, sends JSON, parses JSON answers, and with
 * `returnFullResponse`/`ignoreHttpStatusErrors` returns `{statusCode, body, headers}` for every status.
 * Node parameters given as functions stand for expressions: they are called with each item's json.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { TestApp } from './app.ts'

export { HomeostatApi } from '../../n8n-nodes/credentials/HomeostatApi.credentials.ts'
export { HomeostatAlert } from '../../n8n-nodes/nodes/HomeostatAlert/HomeostatAlert.node.ts'
export { HomeostatBackup } from '../../n8n-nodes/nodes/HomeostatBackup/HomeostatBackup.node.ts'
export { HomeostatHeal } from '../../n8n-nodes/nodes/HomeostatHeal/HomeostatHeal.node.ts'
export { HomeostatMetricsRecord } from '../../n8n-nodes/nodes/HomeostatMetricsRecord/HomeostatMetricsRecord.node.ts'
export { HomeostatTrigger, signatureProblem } from '../../n8n-nodes/nodes/HomeostatTrigger/HomeostatTrigger.node.ts'
import { HomeostatApi } from '../../n8n-nodes/credentials/HomeostatApi.credentials.ts'

/** The real app served over HTTP on a free loopback port. */
export async function serveApp(t: TestApp) {
  const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

export type Credentials = { baseUrl: string; apiKey: string }
type Json = Record<string, unknown>
type Param = unknown | ((json: Json, itemIndex: number) => unknown)
export type Sent = { method: string; url: string; body?: unknown; statusCode?: number; error?: string }

function fillTemplate(template: string, credentials: Credentials) {
  return template
    .replace(/^=/, '')
    .replace(/\{\{\s*\$credentials\.(\w+)\s*\}\}/g, (_, k: string) => String(credentials[k as keyof Credentials] ?? ''))
}

/** n8n 1.x's httpRequestWithAuthentication for the options our nodes pass. */
function httpHelper(credentials: Credentials, sent: Sent[]) {
  const auth = new HomeostatApi().authenticate.properties.headers as Record<string, string>
  return async function httpRequestWithAuthentication(
    type: string,
    options: {
      method?: string
      url: string
      body?: unknown
      json?: boolean
      returnFullResponse?: boolean
      ignoreHttpStatusErrors?: boolean
      timeout?: number
    },
  ) {
    if (type !== 'homeostatApi') throw new Error(`unexpected credential type ${type}`)
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'n8n' }
    for (const [k, v] of Object.entries(auth)) headers[k] = fillTemplate(v, credentials)
    const hasBody =
      options.body !== undefined &&
      !(typeof options.body === 'object' && options.body !== null && Object.keys(options.body).length === 0)
    if (hasBody) headers['Content-Type'] = 'application/json'
    const record: Sent = { method: options.method ?? 'GET', url: options.url, body: options.body }
    sent.push(record)
    let res: Response
    try {
      res = await fetch(options.url, {
        method: options.method ?? 'GET',
        headers,
        body: hasBody ? JSON.stringify(options.body) : undefined,
        signal: AbortSignal.timeout(options.timeout ?? 300_000),
      })
    } catch (error) {
      // n8n wraps this in a NodeApiError; the nodes only look at the message and cause.
      record.error = String((error as Error).cause ?? error)
      throw error
    }
    record.statusCode = res.status
    const text = await res.text()
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : ''
    } catch {
      // not JSON: the text, as axios gives it
    }
    if (res.status >= 400 && !options.ignoreHttpStatusErrors)
      throw new Error(`Request failed with status code ${res.status}`)
    return options.returnFullResponse
      ? { body, headers: Object.fromEntries(res.headers), statusCode: res.status, statusMessage: res.statusText }
      : body
  }
}

const node = (type = 'CUSTOM.test', parameters: Json = {}, typeVersion = 1) => ({
  id: 'node-1',
  name: 'Homeostat',
  type,
  typeVersion,
  position: [0, 0] as [number, number],
  parameters,
})

export type ExecuteOptions = {
  params: Record<string, Param>
  items?: Json[]
  credentials: Credentials
  continueOnFail?: boolean
  type?: string
  /** The node's typeVersion in the workflow (1 unless given), as `getNode().typeVersion` reports it. */
  typeVersion?: number
}

/** The subset of IExecuteFunctions the nodes use. */
export function executeContext(o: ExecuteOptions) {
  const sent: Sent[] = []
  const items = (o.items ?? [{}]).map((json) => ({ json }))
  const ctx = {
    sent,
    getInputData: () => items,
    getNode: () => node(o.type, o.params as Json, o.typeVersion),
    continueOnFail: () => o.continueOnFail ?? false,
    getCredentials: async (type: string) => {
      if (type !== 'homeostatApi') throw new Error(`unexpected credential type ${type}`)
      return { ...o.credentials }
    },
    getNodeParameter(name: string, itemIndex: number, fallback?: unknown) {
      if (!(name in o.params)) {
        if (fallback !== undefined) return fallback
        throw new Error(`Could not get parameter "${name}"`)
      }
      const p = o.params[name]
      return typeof p === 'function' ? (p as (json: Json, i: number) => unknown)(items[itemIndex]!.json, itemIndex) : p
    },
    helpers: { httpRequestWithAuthentication: httpHelper(o.credentials, sent) },
  }
  return ctx
}

/** Runs a node's execute as n8n would: `this` is the context; returns the first output's items. */
export async function execute(nodeType: { execute?: (...args: never[]) => unknown }, o: ExecuteOptions) {
  const ctx = executeContext(o)
  const out = (await (
    nodeType.execute as unknown as (this: unknown) => Promise<{ json: Json; pairedItem?: { item: number } }[][]>
  ).call(ctx)) ?? [[]]
  return { items: out[0] ?? [], sent: ctx.sent }
}

/** IHookFunctions (activation) and IWebhookFunctions (a call) for the Trigger, sharing static data. */
export function triggerContexts(o: { params: Json; credentials: Credentials; webhookUrl: string }) {
  const sent: Sent[] = []
  const staticData: Json = {}
  const base = {
    getNode: () => node('CUSTOM.homeostatTrigger', o.params),
    getCredentials: async () => ({ ...o.credentials }),
    getWorkflowStaticData: () => staticData,
    getNodeParameter: (name: string, fallback?: unknown) => (name in o.params ? o.params[name] : fallback),
    getNodeWebhookUrl: () => o.webhookUrl,
    helpers: { httpRequestWithAuthentication: httpHelper(o.credentials, sent) },
  }
  /** A received call: raw body and headers, as n8n's webhook server gives them. */
  function webhook(call: { body: string; headers: Record<string, string | string[] | undefined> }) {
    const response: { status?: number; body?: unknown } = {}
    const lower = Object.fromEntries(Object.entries(call.headers).map(([k, v]) => [k.toLowerCase(), v]))
    return {
      response,
      ctx: {
        ...base,
        getRequestObject: () => ({
          rawBody: Buffer.from(call.body),
          body: JSON.parse(call.body) as unknown,
          headers: lower,
        }),
        getBodyData: () => JSON.parse(call.body) as Json,
        getHeaderData: () => lower,
        getResponseObject: () => ({
          status(code: number) {
            response.status = code
            return this
          },
          json(body: unknown) {
            response.body = body
            return this
          },
        }),
      },
    }
  }
  return { hook: base, webhook, staticData, sent }
}

/**
 * n8n 1.x's CredentialTestContext (ICredentialTestFunctions) for the options the credential test
 * passes: `helpers.request` with `{method, uri, headers, json, simple: false, resolveWithFullResponse,
 * timeout}` answers `{statusCode, headers, body}` for every status (JSON parsed when it parses, '' as
 * undefined) and, like axios, throws an error with the system's `code` and message when no answer comes.
 */
export function credentialTestContext() {
  const sent: Sent[] = []
  const request = async (o: {
    method?: string
    uri: string
    headers?: Record<string, string>
    simple?: boolean
    resolveWithFullResponse?: boolean
    timeout?: number
  }) => {
    if (o.simple !== false || !o.resolveWithFullResponse)
      throw new Error('the harness only does simple: false with resolveWithFullResponse')
    const record: Sent = { method: o.method ?? 'GET', url: o.uri }
    sent.push(record)
    let res: Response
    try {
      res = await fetch(o.uri, {
        method: record.method,
        headers: { Accept: 'application/json', ...o.headers },
        signal: AbortSignal.timeout(o.timeout ?? 300_000),
      })
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      const timedOut = (error as Error).name === 'TimeoutError'
      const axiosLike = Object.assign(
        new Error(timedOut ? `timeout of ${o.timeout}ms exceeded` : (cause?.message ?? String(error))),
        { code: timedOut ? 'ECONNABORTED' : cause?.code, isAxiosError: true },
      )
      record.error = axiosLike.message
      throw axiosLike
    }
    record.statusCode = res.status
    const text = await res.text()
    let body: unknown = text || undefined
    try {
      body = text ? JSON.parse(text) : undefined
    } catch {
      // not JSON: the text, as axios gives it
    }
    return { body, headers: Object.fromEntries(res.headers), statusCode: res.status, statusMessage: res.statusText }
  }
  return { sent, logger: console, helpers: { request } }
}

/**
 * Tests a credential the way n8n 1.x's CredentialsTester picks the test: the credential type's
 * declarative `test` when it has one, else the `methods.credentialTest[testedBy]` of a node using it.
 */
export async function testCredential(
  nodeType: {
    description: { credentials?: { name: string; testedBy?: unknown }[] }
    methods?: { credentialTest?: Record<string, unknown> }
  },
  data: Credentials,
) {
  if ('test' in new HomeostatApi())
    throw new Error("the credential type has a declarative test: n8n would use it, not the node's")
  const testedBy = nodeType.description.credentials?.find((c) => c.name === 'homeostatApi')?.testedBy
  const fn = typeof testedBy === 'string' ? nodeType.methods?.credentialTest?.[testedBy] : undefined
  if (typeof fn !== 'function') throw new Error(`no methods.credentialTest[${String(testedBy)}] on the node`)
  const ctx = credentialTestContext()
  const result = (await fn.call(ctx, { id: 'cred-1', name: 'Homeostat account', type: 'homeostatApi', data })) as {
    status: 'OK' | 'Error'
    message: string
  }
  return { ...result, sent: ctx.sent }
}

export type NodeFailure = Error & {
  httpCode?: string | null
  description?: string | null
  context: { itemIndex?: number }
}
/** The error a run ends with; fails the test when the run succeeds. */
export async function failure(run: Promise<unknown>): Promise<NodeFailure> {
  try {
    await run
  } catch (error) {
    return error as NodeFailure
  }
  throw new Error('expected the node to fail')
}
