/**
 * Puts a failed n8n execution down to a class and its failing node, from the run data n8n 1.x
 * keeps (`data.resultData.error`, and `runData[node][i].error` of the node that failed). n8n's
 * errors carry `name` (NodeApiError, NodeOperationError, ExpressionError, …), `message`,
 * `description`, `httpCode` (a string, for API errors) and `node` ({name, type}); for network
 * failures NodeApiError replaces the system code with a sentence (its `messages` still hold the
 * original). Users' rules run first, in order; then the built-in ones below.
 */
import type { FailureClass } from '../../../../db/schema/n8n.ts'
import type { UserRegex } from '../../../lib/safe-regex.ts'

export type Classification = {
  failureClass: FailureClass
  node: string | null
  nodeType: string | null
  httpCode: number | null
  message: string | null
}

/** A user's rule, ready to match: every condition given must hold. */
export type CompiledRule = {
  failureClass: FailureClass
  pattern: UserRegex | null
  nodeType: string | null
  httpStatus: number | null
}

const MESSAGE_MAX = 500
const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : null)
const str = (v: unknown) => (typeof v === 'string' && v ? v : null)

/** The error that stopped the run and the node it came from: the last node in runData with an error, else resultData's. */
function failureOf(execution: Record<string, unknown>) {
  const resultData = obj(obj(execution.data)?.resultData)
  const runData = obj(resultData?.runData) ?? {}
  let nodeError: { node: string; error: Record<string, unknown> } | null = null
  let latest = Number.NEGATIVE_INFINITY
  for (const [node, runs] of Object.entries(runData)) {
    if (!Array.isArray(runs)) continue
    for (const run of runs) {
      const error = obj(obj(run)?.error)
      const at = Number(obj(run)?.startTime ?? 0)
      if (error && at >= latest) {
        latest = at
        nodeError = { node, error }
      }
    }
  }
  const top = obj(resultData?.error)
  const error = nodeError?.error ?? top ?? {}
  const errNode = obj(error.node) ?? obj(top?.node)
  const node = nodeError?.node ?? str(errNode?.name) ?? str(resultData?.lastNodeExecuted)
  return { error, node, nodeType: str(errNode?.type) }
}

/** The HTTP status an error names: n8n's httpCode, or "503 - …" at the start of its message or messages. */
function httpCodeOf(error: Record<string, unknown>): number | null {
  const code = Number(error.httpCode ?? obj(error.cause)?.httpCode ?? obj(error.cause)?.status)
  if (Number.isInteger(code) && code >= 100 && code <= 599) return code
  const texts = [error.message, ...(Array.isArray(error.messages) ? error.messages : [])]
  for (const t of texts) {
    const m = typeof t === 'string' ? /^(\d{3}) - /.exec(t) : null
    if (m) return Number(m[1])
  }
  return null
}

/** Every text the error has, for the built-in patterns (message, description, messages, cause, code). */
function textsOf(error: Record<string, unknown>): string {
  const cause = obj(error.cause)
  return [
    error.message,
    error.description,
    error.code,
    cause?.message,
    cause?.code,
    ...(Array.isArray(error.messages) ? error.messages : []),
  ]
    .filter((t): t is string => typeof t === 'string')
    .join('\n')
}

const CODE_NODES = new Set([
  'n8n-nodes-base.code',
  'n8n-nodes-base.function',
  'n8n-nodes-base.functionItem',
  '@n8n/n8n-nodes-langchain.code',
])

/** The built-in classes, in order: the first that matches wins. */
function builtIn(
  status: string,
  name: string,
  http: number | null,
  text: string,
  nodeType: string | null,
): FailureClass {
  if (status === 'crashed' || /out of memory|heap (limit|out)|allocation failed|SIGKILL|crashed/i.test(text))
    return 'resource'
  if (
    http === 401 ||
    http === 403 ||
    /credential|unauthori[sz]ed|forbidden|authentication|invalid (api )?(key|token)|access token|expired token|token (has )?expired/i.test(
      text,
    )
  )
    return 'credentials'
  if (http === 429 || /rate limit|too many requests|quota exceeded/i.test(text)) return 'rate_limit'
  if (http === 408 || http === 504 || /timed? ?out|ETIMEDOUT|ESOCKETTIMEDOUT|ECONNABORTED|timeout/i.test(text))
    return 'timeout'
  if (
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|getaddrinfo|refused the connection|connection cannot be established|closed unexpectedly|network error/i.test(
      text,
    )
  )
    return 'network'
  if (http !== null && http >= 500) return 'upstream_5xx'
  if (/bad gateway|service unavailable|not able to process your request|internal server error/i.test(text))
    return 'upstream_5xx'
  if (name === 'ExpressionError' || /expression|referenced node|can't get data for expression|\$json|\{\{/i.test(text))
    return 'expression'
  if ((nodeType && CODE_NODES.has(nodeType)) || /^(ReferenceError|SyntaxError|TypeError|RangeError)$/.test(name))
    return 'code'
  return 'unknown'
}

/**
 * The class of a failed execution (n8n's JSON of `GET /executions/:id?includeData=true`).
 * `nodeTypes` gives a node's type by name when the error does not carry it (from the workflow).
 */
export function classify(
  execution: Record<string, unknown>,
  rules: CompiledRule[],
  nodeTypes: (node: string) => string | null = () => null,
): Classification {
  const { error, node, nodeType: errType } = failureOf(execution)
  const nodeType = errType ?? (node ? nodeTypes(node) : null)
  const httpCode = httpCodeOf(error)
  const message = str(error.message) ?? str(error.description)
  const out = { node, nodeType, httpCode, message: message ? message.slice(0, MESSAGE_MAX) : null }
  const whole = message ?? ''
  for (const r of rules) {
    if (r.pattern && !r.pattern.test(whole)) continue
    if (r.nodeType && r.nodeType !== nodeType) continue
    if (r.httpStatus !== null && r.httpStatus !== httpCode) continue
    return { failureClass: r.failureClass, ...out }
  }
  const status = str(execution.status) ?? 'error'
  return { failureClass: builtIn(status, str(error.name) ?? '', httpCode, textsOf(error), nodeType), ...out }
}
