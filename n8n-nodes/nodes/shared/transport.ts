/**
 * Every call to Homeostat goes through here: the credentials' base URL and Bearer key (through
 * n8n's `httpRequestWithAuthentication`), one retry when the server cannot be reached or answers
 * 502/503/504, and Homeostat's error body (`{"error":{"code","message","details"}}`) turned into a
 * NodeApiError carrying the server's message and status.
 */
import type {
  IDataObject,
  IExecuteFunctions,
  IHookFunctions,
  IHttpRequestMethods,
  IHttpRequestOptions,
  ILoadOptionsFunctions,
  IWebhookFunctions,
  JsonObject,
} from 'n8n-workflow'
import { NodeApiError, sleep } from 'n8n-workflow'

export const CREDENTIALS = 'homeostatApi'
export const RETRY_DELAY_MS = 1000
const RETRY_STATUS = new Set([502, 503, 504])

export type Context = IExecuteFunctions | IHookFunctions | IWebhookFunctions | ILoadOptionsFunctions
export type Query = Record<string, string | number | boolean | undefined>
export type Detail = { field: string; message: string }
export type RequestOptions = { body?: IDataObject | IDataObject[]; query?: Query; itemIndex?: number }

/** A Homeostat error answer. */
export type ServerError = { statusCode: number; code?: string; message: string; details: Detail[] }

type FullResponse = { statusCode: number; body: unknown }

export async function baseUrl(ctx: Context): Promise<string> {
  const credentials = await ctx.getCredentials(CREDENTIALS)
  return String(credentials.baseUrl ?? '')
    .trim()
    .replace(/\/+$/, '')
}

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.append(k, String(v))
  const s = params.toString()
  return s ? `?${s}` : ''
}

/** The server's `{error: {...}}` body, or what can be said about a body that is not one. */
export function serverError(statusCode: number, body: unknown): ServerError {
  const error = body && typeof body === 'object' && 'error' in body ? (body as { error: unknown }).error : undefined
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; message?: unknown; details?: unknown }
    const details = Array.isArray(e.details)
      ? e.details
          .filter((d): d is Detail => !!d && typeof d === 'object' && 'field' in d)
          .map((d) => ({ field: String(d.field), message: String(d.message) }))
      : []
    return {
      statusCode,
      code: typeof e.code === 'string' ? e.code : undefined,
      message: String(e.message ?? `HTTP ${statusCode}`),
      details,
    }
  }
  const text = typeof body === 'string' ? body.slice(0, 300) : ''
  return { statusCode, message: `HTTP ${statusCode}${text ? `: ${text}` : ''}`, details: [] }
}

export const describeDetails = (details: Detail[]) => details.map((d) => `${d.field}: ${d.message}`).join('; ')

/** A NodeApiError with Homeostat's message (and each bad field) and the HTTP status. */
export function apiError(ctx: Context, e: ServerError, itemIndex?: number, prefix = 'Homeostat'): NodeApiError {
  const fields = describeDetails(e.details)
  return new NodeApiError(ctx.getNode(), { ...e, details: e.details } as unknown as JsonObject, {
    // A message that already is the field list (e.g. `type: unknown action type x`) is not repeated.
    message: `${prefix}: ${e.message}${fields && fields !== e.message ? ` (${fields})` : ''} [HTTP ${e.statusCode}]`,
    description: fields ? `The server named these fields: ${fields}` : undefined,
    httpCode: String(e.statusCode),
    itemIndex,
  })
}

const causeOf = (error: unknown): string => {
  const e = error as {
    cause?: { code?: string; message?: string }
    code?: string
    message?: string
    description?: string
  }
  return [e.cause?.code ?? e.code, e.description ?? e.cause?.message ?? e.message].filter(Boolean).join(' ')
}

/**
 * One request; the answer's status and parsed body. Transport failures and 502/503/504 are tried
 * once more after a second; a second failure throws a NodeApiError saying the server is down.
 */
export async function send(
  ctx: Context,
  method: IHttpRequestMethods,
  path: string,
  options: RequestOptions = {},
): Promise<FullResponse> {
  const base = await baseUrl(ctx)
  const request: IHttpRequestOptions = {
    method,
    url: `${base}${path}${queryString(options.query)}`,
    json: true,
    returnFullResponse: true,
    ignoreHttpStatusErrors: true,
    timeout: 30_000,
    ...(options.body !== undefined ? { body: options.body } : {}),
  }
  let last = ''
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      const res = (await ctx.helpers.httpRequestWithAuthentication.call(ctx, CREDENTIALS, {
        ...request,
      })) as FullResponse
      if (!RETRY_STATUS.has(res.statusCode)) return res
      last = serverError(res.statusCode, res.body).message
    } catch (error) {
      last = causeOf(error) || 'no answer'
    }
    if (attempt === 1) await sleep(RETRY_DELAY_MS)
  }
  throw new NodeApiError(ctx.getNode(), { message: last } as JsonObject, {
    message: `Homeostat at ${base} could not be reached (tried twice): check the base URL and that the server is running`,
    description: last,
    itemIndex: options.itemIndex,
  })
}

/** A request whose 4xx/5xx answer throws the server's message. */
export async function request<T = IDataObject>(
  ctx: Context,
  method: IHttpRequestMethods,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const res = await send(ctx, method, path, options)
  if (res.statusCode >= 400) throw apiError(ctx, serverError(res.statusCode, res.body), options.itemIndex)
  return res.body as T
}

/** Follows `next` cursors until `limit` items (or all when limit is undefined). */
export async function paginate(
  ctx: Context,
  path: string,
  query: Query,
  limit: number | undefined,
  itemIndex?: number,
): Promise<IDataObject[]> {
  const out: IDataObject[] = []
  let cursor: string | undefined
  do {
    const pageSize = Math.min(500, limit === undefined ? 500 : limit - out.length)
    const page = await request<{ items: IDataObject[]; next?: string | null }>(ctx, 'GET', path, {
      query: { ...query, limit: pageSize, cursor },
      itemIndex,
    })
    out.push(...page.items)
    cursor = page.next ?? undefined
  } while (cursor && (limit === undefined || out.length < limit))
  return limit === undefined ? out : out.slice(0, limit)
}
