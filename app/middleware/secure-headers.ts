/**
 * The security headers of every answer, as fixed lists set once the handler is done (what Hono's
 * `secureHeaders` sets with these options, without its per-request work; tests/unit/secure-headers
 * checks they stay the same). Pages get the full set, CSP included; JSON answers only what matters
 * for them.
 */
const common: [string, string][] = [
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'SAMEORIGIN'],
]

export const PAGE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'", "'unsafe-eval'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  frameAncestors: ["'none'"],
}

export const apiHeaders: readonly (readonly [string, string])[] = Object.freeze([...common])

export const pageHeaders: readonly (readonly [string, string])[] = Object.freeze([
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ...common,
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
  [
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  ],
])

/** Sets the headers (and the request id) on a finished response, dropping X-Powered-By. */
export function finishHeaders(
  res: Response,
  list: readonly (readonly [string, string])[],
  requestId: string,
): Response {
  let headers = res.headers
  try {
    for (const [name, value] of list) headers.set(name, value)
  } catch {
    // Immutable headers (a proxied fetch response): copy the response after all.
    res = new Response(res.body, res)
    headers = res.headers
    for (const [name, value] of list) headers.set(name, value)
  }
  headers.delete('X-Powered-By')
  headers.set('X-Request-Id', requestId)
  return res
}
