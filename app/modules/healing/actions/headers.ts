/**
 * Header values of healing actions (the webhook action's `params.headers`: bearer tokens, API
 * keys) are secrets like channel secrets: each value is sealed at rest (`sealed:<ciphertext>`),
 * opened only to send, and masked in every reply, page and output.
 *
 * Each value is bound (AAD) to the row that owns it and to its header name:
 * `healing_rules:<id>:header:<name>` in a rule, `healing_actions:<id>:header:<name>` in an action.
 * A rule's values never reach its actions as ciphertext: a run opens them (to fill `{{label}}`
 * placeholders) and the new action seals them again for itself, so the binding survives the copy
 * while a value pasted into another row, or under another header name, does not open.
 */
import type { Rebinder, Sealer } from '../../../lib/crypto.ts'
import type { ErrorDetail } from '../../../lib/errors.ts'

const SEALED = 'sealed:'
/** What replies and pages show for a header value; sent back unchanged, it keeps the stored value. */
export const HEADER_MASK = '••••••••'

/** The row a header value belongs to, the first part of its AAD. */
export const ruleHeadersOwner = (ruleId: string) => `healing_rules:${ruleId}`
export const actionHeadersOwner = (actionId: string) => `healing_actions:${actionId}`
export const headerAad = (owner: string, name: string) => `${owner}:header:${name}`

export const isSealedHeader = (val: string) => val.startsWith(SEALED)

type Headers = Record<string, unknown>
const headersOf = (params: unknown): Headers | undefined => {
  if (!params || typeof params !== 'object' || Array.isArray(params)) return undefined
  const headers = (params as Record<string, unknown>).headers
  return headers && typeof headers === 'object' && !Array.isArray(headers) ? (headers as Headers) : undefined
}

function mapHeaders<T>(params: T, f: (val: string, name: string) => string): T {
  const headers = headersOf(params)
  if (!headers) return params
  const out = Object.fromEntries(
    Object.entries(headers).map(([k, val]) => [k, typeof val === 'string' ? f(val, k) : val]),
  )
  return { ...params, headers: out }
}

const opensAs = (sealer: Sealer, val: string, aad: string) => {
  try {
    return sealer.open(val.slice(SEALED.length), aad)
  } catch {
    return undefined
  }
}

/**
 * Values a caller sent that already look sealed: refused at input (400 naming each header). Only the
 * server writes that marker; a value sent with it would otherwise be stored as it is and opened to send.
 */
export const sealedHeaderIssues = (params: unknown): ErrorDetail[] =>
  Object.entries(headersOf(params) ?? {})
    .filter(([, val]) => typeof val === 'string' && isSealedHeader(val))
    .map(([name]) => ({
      field: `params.headers.${name}`,
      message: `must not start with ${SEALED} (the server's marker)`,
    }))

/**
 * Seals every header value for its owner. A value sealed already passes through only when it is
 * this owner's own under the same name (kept by an edit, see keepMaskedHeaders); anything else is
 * sealed as the text it is, so it is sent as that text and never opened.
 */
export const sealHeaders = <T>(sealer: Sealer, params: T, owner: string): T =>
  mapHeaders(params, (val, name) =>
    isSealedHeader(val) && opensAs(sealer, val, headerAad(owner, name)) !== undefined
      ? val
      : `${SEALED}${sealer.seal(val, headerAad(owner, name))}`,
  )

/**
 * The header values in the clear: for sending only, never for replies, pages or logs. A value that
 * does not open for this owner (copied from elsewhere, or another SECRET_KEY) is an issue naming it.
 */
export function openHeaders<T>(sealer: Sealer, params: T, owner: string): { params: T } | { issues: ErrorDetail[] } {
  const issues: ErrorDetail[] = []
  const opened = mapHeaders(params, (val, name) => {
    if (!isSealedHeader(val)) return val
    const plain = opensAs(sealer, val, headerAad(owner, name))
    if (plain === undefined) issues.push({ field: `params.headers.${name}`, message: 'cannot be opened; set it again' })
    return plain ?? ''
  })
  return issues.length ? { issues } : { params: opened }
}

/**
 * For the upgrade at boot: the params with each header value bound to its owner, values sealed
 * before binding sealed again and any value found in the clear sealed (actions skipped or failed
 * before their params were sealed kept them so); null when nothing needed it.
 */
export function rebindHeaders(r: Rebinder, params: Record<string, unknown>, owner: string) {
  let changed = false
  const next = mapHeaders(params, (val, name) => {
    const out = isSealedHeader(val)
      ? r.rebind(val.slice(SEALED.length), headerAad(owner, name))
      : r.seal(val, headerAad(owner, name))
    if (out === null) return val
    changed = true
    return `${SEALED}${out}`
  })
  return changed ? next : null
}

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
