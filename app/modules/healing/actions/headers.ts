/**
 * Header values of healing actions (the webhook action's `params.headers`: bearer tokens, API
 * keys) are secrets like channel secrets: each value is sealed at rest (`sealed:<ciphertext>`),
 * opened only to send, and masked in every reply, page and output.
 */
import type { Sealer } from '../../../lib/crypto.ts'

const SEALED = 'sealed:'
/** What replies and pages show for a header value; sent back unchanged, it keeps the stored value. */
export const HEADER_MASK = '••••••••'

export const isSealedHeader = (val: string) => val.startsWith(SEALED)

function mapHeaders<T>(params: T, f: (val: string, name: string) => string): T {
  if (!params || typeof params !== 'object' || Array.isArray(params)) return params
  const headers = (params as Record<string, unknown>).headers
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return params
  const out = Object.fromEntries(
    Object.entries(headers).map(([k, val]) => [k, typeof val === 'string' ? f(val, k) : val]),
  )
  return { ...params, headers: out }
}

/** Seals every header value not sealed yet (a rule's sealed values pass through to its actions). */
export const sealHeaders = <T>(sealer: Sealer, params: T): T =>
  mapHeaders(params, (val) => (isSealedHeader(val) ? val : `${SEALED}${sealer.seal(val)}`))

/** The header values in the clear: for sending only, never for replies, pages or logs. */
export const openHeaders = <T>(sealer: Sealer, params: T): T =>
  mapHeaders(params, (val) => (isSealedHeader(val) ? sealer.open(val.slice(SEALED.length)) : val))

/** Params as replies and pages show them: every header value masked. */
export const maskHeaders = <T>(params: T): T => mapHeaders(params, () => HEADER_MASK)

/**
 * Params of an edit merged with the stored ones: a header sent back masked keeps its stored
 * value, but only while the URL stays: a stored header never follows the call to a new URL.
 * Returns the merged params, or the names of the masked headers that would have moved.
 */
export function keepMaskedHeaders(
  before: Record<string, unknown>,
  next: Record<string, unknown>,
): { params: Record<string, unknown> } | { moved: string[] } {
  const stored = (before.headers ?? {}) as Record<string, unknown>
  const moved: string[] = []
  const params = mapHeaders(next, (val, name) => {
    if (val !== HEADER_MASK || typeof stored[name] !== 'string') return val
    if (next.url !== before.url) moved.push(name)
    return stored[name] as string
  })
  return moved.length ? { moved } : { params }
}
