import { type IncomingMessage, request as httpRequest, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  checkedAddresses,
  DEFAULT_TIMEOUT_MS,
  defaultPort,
  OutboundError,
  type OutboundPolicy,
  parseUrl,
  pinnedLookup,
  UNREACHABLE,
} from './outbound.ts'
import { normalizeHost } from './outbound-policy.ts'

/**
 * The outbound helper for bodies too big to hold in memory (backups: snapshots, objects of many
 * megabytes). The same policy as `outboundFetch`, judged by the same code: the host is resolved and
 * every address checked before any connection, and the socket goes to exactly those addresses.
 * What differs, and why:
 * - the request body is streamed from an async iterable and the answer's body is handed back as
 *   a stream, so neither is ever whole in memory;
 * - no whole-call deadline (a 20 GB snapshot takes what it takes): `connectTimeoutMs` bounds
 *   resolving and connecting, `idleTimeoutMs` any silence on the socket after that; the caller's
 *   signal ends the call at any point;
 * - redirects are not followed (a streamed body cannot be sent twice): a 3xx comes back as it is.
 */

export type OutboundStreamOptions = {
  method?: string
  headers?: Record<string, string>
  /** Sent as it is read; give `content-length` in `headers` when known, otherwise it goes chunked. */
  body?: Uint8Array | AsyncIterable<Uint8Array>
  /** Resolving and connecting. Default 10 000. */
  connectTimeoutMs?: number
  /** Longest silence on the socket once connected (sending or receiving). Default 60 000. */
  idleTimeoutMs?: number
  signal?: AbortSignal
}

export type OutboundStreamResponse = {
  status: number
  statusText: string
  headers: Headers
  /** The answer's body, read on demand (back-pressure reaches the peer). Read it or destroy it. */
  body: IncomingMessage
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000

const toHeaders = (res: IncomingMessage) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  return headers
}

/**
 * Calls `url` under `policy` with a streamed body, resolving once the answer's head has arrived.
 * Throws an `OutboundError` as `outboundFetch` does ('refused' before any connection, 'timeout',
 * 'network', 'invalid_url', 'aborted'); an error while the answer's body streams surfaces from the body.
 */
export async function outboundStream(
  policy: OutboundPolicy,
  url: string | URL,
  options: OutboundStreamOptions = {},
): Promise<OutboundStreamResponse> {
  const target = parseUrl(url, 'invalid_url')
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const signal = options.signal
  const aborted = () => new OutboundError('aborted', 'the call was cancelled')
  if (signal?.aborted) throw aborted()

  let connectTimer: ReturnType<typeof setTimeout> | undefined
  const addresses = await new Promise<Awaited<ReturnType<typeof checkedAddresses>>>((resolve, reject) => {
    connectTimer = setTimeout(
      () => reject(new OutboundError('timeout', `timed out after ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    )
    const onAbort = () => reject(aborted())
    signal?.addEventListener('abort', onAbort, { once: true })
    checkedAddresses(policy, target)
      .then(resolve, reject)
      .finally(() => signal?.removeEventListener('abort', onAbort))
  }).catch((error) => {
    clearTimeout(connectTimer)
    throw error
  })

  return new Promise((resolve, reject) => {
    const requestOptions: RequestOptions = {
      protocol: target.protocol,
      // As in outbound.ts: the name for Host, SNI and the certificate; `lookup` decides where the socket goes.
      host: normalizeHost(target.hostname),
      port: defaultPort(target),
      path: `${target.pathname}${target.search}`,
      method: (options.method ?? 'GET').toUpperCase(),
      headers: options.headers ?? {},
      lookup: pinnedLookup(addresses),
      agent: false,
    }
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(requestOptions)
    let settled = false
    let response: IncomingMessage | undefined
    const fail = (error: Error) => {
      // Once the head has arrived, the reader of the body is who must learn why it stopped.
      response?.destroy(error)
      req.destroy(error)
      if (settled) return
      settled = true
      clearTimeout(connectTimer)
      reject(error)
    }
    const onAbort = () => fail(aborted())
    signal?.addEventListener('abort', onAbort, { once: true })
    clearTimeout(connectTimer)
    connectTimer = setTimeout(
      () => fail(new OutboundError('timeout', `could not connect within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    )
    req.on('socket', (socket) => socket.once('connect', () => clearTimeout(connectTimer)))
    req.setTimeout(idleTimeoutMs, () => fail(new OutboundError('timeout', `no data for ${idleTimeoutMs} ms`)))
    req.on('error', (error: Error & { code?: string }) =>
      fail(
        error instanceof OutboundError ? error : new OutboundError('network', UNREACHABLE, error.code ?? error.message),
      ),
    )
    req.on('response', (res) => {
      response = res
      settled = true
      clearTimeout(connectTimer)
      // The caller's signal still ends the body's stream; it stops listening when the body is done.
      res.once('close', () => signal?.removeEventListener('abort', onAbort))
      resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: toHeaders(res), body: res })
    })
    const body = options.body
    if (body === undefined || body instanceof Uint8Array) {
      req.end(body)
    } else {
      // The body's own failure (a command that died mid-stream) is the caller's error, told apart
      // from the socket's. Back-pressure: the next chunk is read only when the socket took the last one.
      let sourceError: Error | undefined
      const source = async function* () {
        try {
          yield* body
        } catch (error) {
          sourceError = error as Error
          throw error
        }
      }
      pipeline(Readable.from(source(), { objectMode: false }), req).catch((error: Error & { code?: string }) =>
        fail(
          sourceError ??
            (error instanceof OutboundError
              ? error
              : new OutboundError('network', UNREACHABLE, `request body: ${error.code ?? error.message}`)),
        ),
      )
    }
  })
}
