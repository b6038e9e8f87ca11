import { Buffer } from 'node:buffer'
import { lookup as dnsLookup } from 'node:dns'
import { type IncomingMessage, request as httpRequest, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import { parseIp } from './ip.ts'
import {
  judgeAddress,
  judgeHostName,
  normalizeHost,
  type OutboundAllowEntry,
  type RefusalWhy,
} from './outbound-policy.ts'

/**
 * The one way the server calls a URL a user configured (channels, webhooks, checks, healing, n8n…).
 * It resolves the host, refuses what the policy refuses before any connection is made, connects to
 * exactly the addresses it checked (no second resolution: DNS rebinding cannot slip in between),
 * follows redirects by hand checking every hop, reads at most `maxBytes` and always times out.
 * Why `node:http` with a `lookup` option rather than `fetch`: docs/adr/0007-outbound-policy.md.
 */

export { type OutboundAllowEntry, parseOutboundAllow } from './outbound-policy.ts'

export type ResolvedAddress = { address: string; family: 4 | 6 }

/** What `createOutboundPolicy` builds once at start-up and every outbound call is given. */
export type OutboundPolicy = {
  readonly allow: readonly OutboundAllowEntry[]
  /** Resolves a host name to every address it has (A and AAAA). */
  readonly resolve: (hostname: string) => Promise<ResolvedAddress[]>
}

export type OutboundOptions = {
  method?: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** Whole call, every hop included: resolving, connecting, headers and body. Default 10 000. */
  timeoutMs?: number
  /** Bytes of the final answer's body kept; the rest is not read (the connection is closed). Default 1 MiB. */
  maxBytes?: number
  /** Redirects followed (each hop checked); 0 returns a 3xx answer as it is. Default 5. */
  maxRedirects?: number
  signal?: AbortSignal
}

export type OutboundResponse = {
  status: number
  statusText: string
  headers: Headers
  /** The body's first `maxBytes` bytes, as received (no decompression: Homeostat asks for none). */
  body: Uint8Array
  /** True when the body was longer than `maxBytes` and was cut. */
  truncated: boolean
  /** The URL of the final hop. It may hold secrets: show it with `redactUrl`. */
  url: string
  redirects: number
  /** The body as UTF-8 text (malformed bytes, e.g. a character cut at the cap, become U+FFFD). */
  text(): string
}

export type OutboundErrorReason = 'refused' | 'timeout' | 'network' | 'redirect' | 'invalid_url' | 'aborted'

/**
 * What an outbound call throws. `message` is safe to show to operators: it never says more than
 * the policy refused, the call timed out, or the destination could not be reached, so the helper
 * cannot be used to map ports or networks. `detail` (the address class, the system error code) is
 * for the server's log only.
 */
export class OutboundError extends Error {
  constructor(
    readonly reason: OutboundErrorReason,
    message: string,
    readonly detail?: string,
  ) {
    super(message)
    this.name = 'OutboundError'
  }
}

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_BYTES = 1024 * 1024
export const DEFAULT_MAX_REDIRECTS = 5
const REFUSED = 'refused by the outbound policy'
/** The message for a destination that could not be reached; callers that must not tell a timeout from a refusal use it for both. */
export const UNREACHABLE = 'could not reach the destination'

/** `node:dns` lookup of every address; runs the system resolver (hosts file included) like a connect would. */
const systemResolve = (hostname: string) =>
  new Promise<ResolvedAddress[]>((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))),
    ),
  )

/**
 * The policy the composition root builds once from the configuration. `resolve` may be replaced
 * (tests give host names fixed answers without DNS).
 */
export function createOutboundPolicy(
  config: { OUTBOUND_ALLOW: readonly OutboundAllowEntry[] },
  resolve: OutboundPolicy['resolve'] = systemResolve,
): OutboundPolicy {
  return { allow: config.OUTBOUND_ALLOW, resolve }
}

/**
 * The URL without what may be secret, for logs and for people who must not see secrets: no
 * user name or password, no query string, no fragment. The path stays (push tokens and Slack
 * webhook secrets are path segments: show those URLs by origin alone, `new URL(u).origin`).
 */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return '[invalid URL]'
  }
}

export const defaultPort = (u: URL) => (u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80)

/**
 * The addresses a URL's host may be connected to, after the policy; throws before any connection when refused.
 * Exported for outbound-stream.ts, which must judge exactly as this file does.
 */
export const checkedAddresses = (policy: OutboundPolicy, url: URL) =>
  checkedHostAddresses(policy, url.hostname, defaultPort(url), redactUrl(url))

async function checkedHostAddresses(
  policy: OutboundPolicy,
  hostname: string,
  port: number,
  label: string,
): Promise<ResolvedAddress[]> {
  const host = normalizeHost(hostname)
  const refuse = (why: RefusalWhy) => new OutboundError('refused', REFUSED, `${label}: ${why}`)
  const byName = judgeHostName(policy.allow, host, port)
  if (byName) throw refuse(byName)
  const literal = parseIp(host)
  let addresses: ResolvedAddress[]
  if (literal) {
    addresses = [{ address: host, family: literal.length === 4 ? 4 : 6 }]
  } else {
    try {
      addresses = await policy.resolve(host)
    } catch (error) {
      throw new OutboundError('network', UNREACHABLE, `resolve: ${(error as { code?: string }).code ?? error}`)
    }
    if (addresses.length === 0) throw new OutboundError('network', UNREACHABLE, 'resolve: no address')
  }
  // Every address must pass, not just one: a name answering both a public and an internal address
  // would otherwise let the connection land on the internal one.
  for (const a of addresses) {
    const bytes = parseIp(a.address)
    const why = bytes ? judgeAddress(policy.allow, host, port, bytes) : 'reserved'
    if (why) throw refuse(why)
  }
  return addresses
}

/** A `lookup` for `node:http` that answers with the addresses already checked and never asks DNS again. */
export function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
    const family = options?.family === 4 || options?.family === 6 ? options.family : 0
    const usable = family ? addresses.filter((a) => a.family === family) : addresses
    if (usable.length === 0) {
      callback(Object.assign(new Error('no checked address of that family'), { code: 'ENOTFOUND' }))
    } else if (options?.all) {
      callback(null, usable)
    } else {
      const [first] = usable as [ResolvedAddress]
      callback(null, first.address, first.family)
    }
  }) as LookupFunction
}

type Hop = { status: number; statusText: string; headers: Headers; body: Uint8Array; truncated: boolean }

const toHeaders = (res: IncomingMessage) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  return headers
}

/** One request to one URL whose addresses passed the policy. `readBody: false` skips a redirect's body. */
function send(
  url: URL,
  addresses: ResolvedAddress[],
  init: { method: string; headers: Record<string, string>; body?: Uint8Array },
  maxBytes: number,
  readBody: (status: number) => boolean,
  cancel: AbortSignal,
): Promise<Hop> {
  return new Promise((resolve, reject) => {
    const options: RequestOptions = {
      protocol: url.protocol,
      // The host name, not the address: the Host header, TLS SNI and the certificate check use it;
      // `lookup` decides where the socket goes.
      host: normalizeHost(url.hostname),
      port: defaultPort(url),
      path: `${url.pathname}${url.search}`,
      method: init.method,
      headers: init.body ? { ...init.headers, 'content-length': String(init.body.byteLength) } : init.headers,
      lookup: pinnedLookup(addresses),
      // No pooled sockets: a kept-alive socket from another call must never stand in for this check.
      agent: false,
    }
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options)
    let settled = false
    const fail = (error: OutboundError) => {
      if (settled) return
      settled = true
      cancel.removeEventListener('abort', onCancel)
      req.destroy()
      reject(error)
    }
    const done = (hop: Hop) => {
      if (settled) return
      settled = true
      cancel.removeEventListener('abort', onCancel)
      resolve(hop)
    }
    const onCancel = () => fail(cancel.reason as OutboundError)
    if (cancel.aborted) return onCancel()
    cancel.addEventListener('abort', onCancel)
    req.on('error', (error: Error & { code?: string }) =>
      fail(new OutboundError('network', UNREACHABLE, error.code ?? error.message)),
    )
    req.on('response', (res) => {
      const head = { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: toHeaders(res) }
      if (!readBody(head.status)) {
        done({ ...head, body: new Uint8Array(0), truncated: false })
        res.destroy()
        req.destroy()
        return
      }
      const chunks: Uint8Array[] = []
      let size = 0
      res.on('data', (chunk: Uint8Array) => {
        if (settled) return
        if (size + chunk.byteLength > maxBytes) {
          chunks.push(chunk.subarray(0, maxBytes - size))
          size = maxBytes
          done({ ...head, body: concat(chunks, size), truncated: true })
          // Stop reading: the rest of a huge or endless body never reaches memory.
          res.destroy()
          req.destroy()
          return
        }
        chunks.push(chunk)
        size += chunk.byteLength
      })
      res.on('end', () => done({ ...head, body: concat(chunks, size), truncated: false }))
      res.on('error', (error: Error & { code?: string }) =>
        fail(new OutboundError('network', UNREACHABLE, error.code ?? error.message)),
      )
      // A body cut short by the peer: keep what arrived rather than fail (it is shown truncated anyway).
      res.on('close', () => done({ ...head, body: concat(chunks, size), truncated: !res.complete }))
    })
    req.end(init.body)
  })
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
// Headers that carry nothing secret and may follow a redirect to another origin. Every other one
// the caller set (Authorization, Cookie, custom tokens, signatures) stays with the origin it was meant for.
const CROSS_ORIGIN_SAFE = new Set(['accept', 'accept-language', 'content-language', 'content-type', 'user-agent'])

/**
 * `https://user:pass@host/` sends Basic credentials to that URL (as curl does; n8n webhooks use
 * them), unless the caller set Authorization itself. Only for the URL that carries them: a
 * redirect's own URL decides for its hop.
 */
function withUrlCredentials(url: URL, headers: Record<string, string>): Record<string, string> {
  if ((url.username === '' && url.password === '') || headers.authorization !== undefined) return headers
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
  return { ...headers, authorization: `Basic ${Buffer.from(pair, 'utf8').toString('base64')}` }
}

export function parseUrl(input: string | URL, reason: 'invalid_url' | 'redirect'): URL {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw new OutboundError(reason, reason === 'redirect' ? 'redirect to an invalid URL' : 'not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundError(
      reason,
      reason === 'redirect' ? 'redirect to a URL that is not http(s)' : 'not an http(s) URL',
    )
  }
  return url
}

/**
 * Calls `url` under `policy`. Resolves with the final answer whatever its status; throws an
 * `OutboundError` when the policy refuses a hop ('refused'), the time runs out ('timeout'), the
 * destination cannot be reached ('network'), redirects go wrong ('redirect') or the URL is not
 * an absolute http(s) URL ('invalid_url').
 */
export async function outboundFetch(
  policy: OutboundPolicy,
  url: string | URL,
  options: OutboundOptions = {},
): Promise<OutboundResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS
  let current = parseUrl(url, 'invalid_url')
  let method = (options.method ?? 'GET').toUpperCase()
  let headers: Record<string, string> = Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  )
  let body = typeof options.body === 'string' ? new TextEncoder().encode(options.body) : options.body

  // One deadline for the whole call (every hop, DNS included), and the caller's signal, as one abort.
  const cancel = new AbortController()
  const timer = setTimeout(
    () => cancel.abort(new OutboundError('timeout', `timed out after ${timeoutMs} ms`)),
    timeoutMs,
  )
  const onCallerAbort = () => cancel.abort(new OutboundError('aborted', 'the call was cancelled'))
  if (options.signal?.aborted) onCallerAbort()
  options.signal?.addEventListener('abort', onCallerAbort)
  const race = <T>(work: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      if (cancel.signal.aborted) return reject(cancel.signal.reason)
      const onAbort = () => reject(cancel.signal.reason)
      cancel.signal.addEventListener('abort', onAbort, { once: true })
      work.then(resolve, reject).finally(() => cancel.signal.removeEventListener('abort', onAbort))
    })

  try {
    for (let redirects = 0; ; redirects++) {
      const addresses = await race(checkedAddresses(policy, current))
      const follow = (status: number) => REDIRECTS.has(status) && maxRedirects > 0
      const hop = await send(
        current,
        addresses,
        { method, headers: withUrlCredentials(current, headers), body },
        maxBytes,
        (s) => !follow(s),
        cancel.signal,
      )
      const location = hop.headers.get('location')
      if (!follow(hop.status)) {
        return { ...hop, url: current.href, redirects, text: () => new TextDecoder().decode(hop.body) }
      }
      if (location === null) throw new OutboundError('redirect', `redirect (${hop.status}) without a Location`)
      if (redirects >= maxRedirects) throw new OutboundError('redirect', `more than ${maxRedirects} redirects`)
      const next = parseUrl(new URL(location, current).href, 'redirect')
      // As browsers do: 303 becomes GET, and so does a POST answered by 301 or 302; 307 and 308 keep both.
      if (
        (hop.status === 303 && method !== 'HEAD') ||
        ((hop.status === 301 || hop.status === 302) && method === 'POST')
      ) {
        method = 'GET'
        body = undefined
        delete headers['content-type']
      }
      if (next.origin !== current.origin) {
        // A body resent to another origin could carry alert contents or a signature it was not meant for.
        if (body)
          throw new OutboundError('redirect', `redirect (${hop.status}) to another origin would resend the body`)
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => CROSS_ORIGIN_SAFE.has(k)))
      }
      current = next
    }
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onCallerAbort)
  }
}

/**
 * For a protocol other than HTTP (SMTP): the one address to connect to for `hostname`:`port`, after
 * the same policy as `outboundFetch` (resolved once, every address checked, metadata names and
 * internal addresses refused unless allow-listed), within `timeoutMs`. The caller connects to exactly
 * this address, naming `hostname` only for TLS (SNI and the certificate check), so nothing resolves
 * the name again between the check and the connection. Throws an `OutboundError` as `outboundFetch` does.
 */
export async function outboundAddress(
  policy: OutboundPolicy,
  hostname: string,
  port: number,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ResolvedAddress> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutboundError('timeout', `timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    const checked = await Promise.race([checkedHostAddresses(policy, hostname, port, `${hostname}:${port}`), deadline])
    // One address, as a single SMTP connection uses: IPv4 first, where a dual-stack name is most often served.
    return checked.find((a) => a.family === 4) ?? checked[0]!
  } finally {
    clearTimeout(timer)
  }
}
