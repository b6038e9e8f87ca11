/**
 * The *Test* button of the Homeostat API credential: `GET <base URL>/api/v1/whoami` with the key,
 * answering with the server's own message. Every node declares
 * `credentials: [{ name: 'homeostatApi', required: true, testedBy: 'homeostatApiTest' }]` (a string
 * literal: the community lint reads it from the source) and `methods = { credentialTest }`. n8n 1.x
 * runs this function only because the credential type has no declarative `test`: its
 * CredentialsTester uses a credential's `test` first and looks at the nodes' `testedBy` only without one.
 *
 * n8n gives a credential test an ICredentialTestFunctions context whose only HTTP helper is
 * `helpers.request` (request-promise options, run through axios): no httpRequest, no authentication
 * from the credential type, so the Bearer header is set here.
 */
import type {
  ICredentialDataDecryptedObject,
  ICredentialsDecrypted,
  ICredentialTestFunctions,
  INodeCredentialTestResult,
} from 'n8n-workflow'
import { serverError } from './transport'

/** The name nodes give in `testedBy`, and the key of the function in `methods.credentialTest`. */
export const CREDENTIAL_TEST = 'homeostatApiTest'
export const CREDENTIAL_TEST_TIMEOUT_MS = 10_000

type Answer = { statusCode: number; body: unknown }
type Fault = { code?: string; message?: string; cause?: { code?: string; message?: string } }

const error = (message: string): INodeCredentialTestResult => ({ status: 'Error', message })

/** `ECONNREFUSED`, `ENOTFOUND`, `ECONNABORTED` (axios' timeout) ... with what the system said. */
export function unreachableReason(fault: unknown): string {
  const f = (fault ?? {}) as Fault
  const code = f.code ?? f.cause?.code
  const message = f.cause?.message ?? f.message ?? ''
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(message))
    return `no answer within ${CREDENTIAL_TEST_TIMEOUT_MS / 1000} s (${message || code})`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the host name does not resolve (${message || code})`
  if (code === 'ECONNREFUSED') return `connection refused (${message || code})`
  return [code && !message.includes(code) ? code : '', message].filter(Boolean).join(' ') || 'no answer'
}

const isHomeostatError = (body: unknown) =>
  !!body &&
  typeof body === 'object' &&
  'error' in body &&
  !!(body as { error: unknown }).error &&
  typeof (body as { error: unknown }).error === 'object'

/** What a whoami answer means for the user. */
export function judgeWhoami(base: string, res: Answer): INodeCredentialTestResult {
  const { statusCode, body } = res
  const noApi = `No Homeostat API at ${base}: GET ${base}/api/v1/whoami answered HTTP ${statusCode}${typeof body === 'string' && body.trim().startsWith('<') ? ' with a web page' : ''}. Give the address Homeostat answers at, without /api/v1 (e.g. https://homeostat.example.com)`
  if (isHomeostatError(body)) {
    const e = serverError(statusCode, body)
    // whoami exists on every Homeostat: its own 404 means the base URL has an extra path.
    return error(`Homeostat: ${e.message} [HTTP ${statusCode}]${statusCode === 404 ? `. ${noApi}` : ''}`)
  }
  if (statusCode >= 200 && statusCode < 300 && body && typeof body === 'object' && 'role' in body) {
    const who = body as { name?: unknown; role?: unknown; kind?: unknown }
    return { status: 'OK', message: `Signed in as ${String(who.name ?? 'unknown')} (${String(who.role)})` }
  }
  if (statusCode === 404 || (statusCode >= 200 && statusCode < 300)) return error(noApi)
  const text = typeof body === 'string' ? body.replace(/\s+/g, ' ').trim().slice(0, 200) : ''
  return error(
    `${base} answered HTTP ${statusCode} to /api/v1/whoami, not with a Homeostat error${text ? `: ${text}` : ''}`,
  )
}

export async function homeostatApiTest(
  this: ICredentialTestFunctions,
  credential: ICredentialsDecrypted<ICredentialDataDecryptedObject>,
): Promise<INodeCredentialTestResult> {
  const data = credential.data ?? {}
  const base = String(data.baseUrl ?? '')
    .trim()
    .replace(/\/+$/, '')
  const apiKey = String(data.apiKey ?? '').trim()
  if (!/^https?:\/\/[^/\s]+/i.test(base)) return error(`Base URL "${base}" is not an http:// or https:// address`)
  if (!apiKey) return error('API Key is empty')
  let res: Answer
  try {
    // ICredentialTestFunctions has only `request` in n8n 1.x (CredentialTestContext): no httpRequest to use instead.
    // eslint-disable-next-line @n8n/community-nodes/no-deprecated-workflow-functions
    res = (await this.helpers.request({
      method: 'GET',
      uri: `${base}/api/v1/whoami`,
      headers: { Authorization: `Bearer ${apiKey}` },
      json: true,
      simple: false,
      resolveWithFullResponse: true,
      timeout: CREDENTIAL_TEST_TIMEOUT_MS,
    })) as Answer
  } catch (fault) {
    return error(`Could not reach Homeostat at ${base}: ${unreachableReason(fault)}`)
  }
  return judgeWhoami(base, res)
}

/** `methods.credentialTest` of every node. */
export const credentialTest = { [CREDENTIAL_TEST]: homeostatApiTest }
