import * as v from 'valibot'
import { OutboundError, type OutboundResponse, outboundFetch } from '../../../lib/outbound.ts'
import { signature } from '../../notify/index.ts'
import { type HealingDeps, ActionError } from '../types.ts'
import { clip, defineAction, positiveMs, REPLY_CHARS } from './define.ts'
import { actionHeadersOwner, isSealedHeader, openHeaders } from './headers.ts'

const HttpUrl = v.pipe(
  v.string('must be a string'),
  v.maxLength(2000, 'must be at most 2000 characters'),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an absolute http or https URL'),
)

const Params = v.strictObject({
  url: HttpUrl,
  method: v.optional(
    v.picklist(['POST', 'PUT', 'PATCH', 'DELETE', 'GET'], 'must be one of POST, PUT, PATCH, DELETE, GET'),
  ),
  headers: v.optional(
    v.pipe(
      v.record(
        v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]{1,100}$/, 'header names are letters, digits and -')),
        // A stored value is sealed (longer than the 2000 characters a caller may give).
        v.pipe(
          v.string('must be a string'),
          v.check((s) => s.length <= (isSealedHeader(s) ? 12_000 : 2000), 'must be at most 2000 characters'),
        ),
        'must be an object of header names to values',
      ),
      v.check((h) => Object.keys(h).length <= 20, 'at most 20 headers'),
    ),
  ),
  body: v.optional(v.unknown()),
  expectStatus: v.optional(
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(100, 'must be an HTTP status'),
      v.maxValue(599, 'must be an HTTP status'),
    ),
  ),
  timeoutMs: v.optional(positiveMs(120_000)),
})
type P = v.InferOutput<typeof Params>

/** Bytes of the reply read: the output keeps a short reply, never a whole page from wherever the URL points. */
const OUTPUT_BYTES = 4096

/**
 * The secret healing webhooks are signed with (`X-Homeostat-Signature`, the notification channels'
 * scheme): derived from SECRET_KEY, so it survives restarts; an admin reads it from the API.
 */
// Users copy this secret into the systems that verify the signatures: it keeps the value it had before
// the signing key was derived apart (legacySign), so upgrading breaks no receiver.
export const webhookSecret = (deps: Pick<HealingDeps, 'sealer'>) => deps.sealer.legacySign('homeostat:healing-webhook')

/** Calls an HTTP endpoint (a restart hook, a service's admin API), signed, with a timeout and an expected status. */
export const webhook = defineAction<P>({
  type: 'webhook',
  describe: 'Call an HTTP endpoint, signed (X-Homeostat-Signature), with a timeout and an expected status',
  targetIs: 'what the call heals (a component or service name; free text)',
  paramsSchema: Params,
  canHandle: () => true,
  async execute({ deps, action, params, target, now }) {
    const method = params.method ?? 'POST'
    const at = now()
    const body =
      method === 'GET'
        ? undefined
        : JSON.stringify(
            params.body ?? {
              event: 'healing.action',
              actionId: action.id,
              actionType: action.actionType,
              target,
              trigger: action.trigger,
              attempt: action.attempt,
              sentAt: new Date(at).toISOString(),
            },
          )
    const timeoutMs = params.timeoutMs ?? 10_000
    const expect = params.expectStatus ?? 200
    const opened = openHeaders(deps.sealer, params, actionHeadersOwner(action.id))
    if ('issues' in opened) throw new ActionError(opened.issues.map((i) => `${i.field} ${i.message}`).join('; '), false)
    const headers: Record<string, string> = {
      'User-Agent': 'homeostat',
      'X-Homeostat-Event': 'healing.action',
      'X-Homeostat-Action': action.id,
      ...(opened.params.headers ?? {}),
    }
    if (body !== undefined) headers['Content-Type'] ??= 'application/json'
    headers['X-Homeostat-Signature'] = signature(webhookSecret(deps), body ?? '', at)
    let res: OutboundResponse
    try {
      // Through the outbound policy: an operator must not be able to point this at the cloud's
      // metadata service or an internal admin API and read the answer in the action's output.
      res = await outboundFetch(deps.outbound, params.url, {
        method,
        body,
        headers,
        timeoutMs,
        maxBytes: OUTPUT_BYTES,
        maxRedirects: 0,
      })
    } catch (error) {
      const why = error instanceof OutboundError ? error.message : String((error as Error)?.message ?? error)
      throw new ActionError(`request to ${new URL(params.url).host} failed: ${why}`)
    }
    const text = clip(res.text(), REPLY_CHARS)
    if (res.status !== expect)
      throw new ActionError(`expected HTTP ${expect}, got ${res.status}`, true, { status: res.status, response: text })
    return { status: res.status, response: text }
  },
})
