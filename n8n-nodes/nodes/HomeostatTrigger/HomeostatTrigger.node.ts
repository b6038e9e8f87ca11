import { createHmac, timingSafeEqual } from 'crypto'
import type {
  IDataObject,
  IHookFunctions,
  INodeType,
  INodeTypeDescription,
  IWebhookFunctions,
  IWebhookResponseData,
} from 'n8n-workflow'
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow'
import { request, send, serverError, apiError } from '../shared/transport'
import { credentialTest } from '../shared/credential-test'

/** Deliveries older than this (by their signed timestamp) are refused, so a captured call cannot be replayed later. */
export const SIGNATURE_TOLERANCE_S = 300
const SEVERITY_RANK: Record<string, number> = { info: 0, warning: 1, error: 2, critical: 3 }

/** Checks `X-Homeostat-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`; returns why it fails, or undefined. */
export function signatureProblem(
  secret: string,
  header: string | undefined,
  body: string,
  nowS: number,
): string | undefined {
  if (!header) return 'no X-Homeostat-Signature header'
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]))
  const t = Number(parts.t)
  if (!parts.t || !Number.isInteger(t)) return 'the signature has no timestamp'
  if (Math.abs(nowS - t) > SIGNATURE_TOLERANCE_S)
    return `the signature timestamp is more than ${SIGNATURE_TOLERANCE_S} s away from now`
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'))
  const given = Buffer.from(parts.v1 ?? '')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'the signature does not match'
  return undefined
}

export class HomeostatTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Homeostat Trigger',
    name: 'homeostatTrigger',
    icon: { light: 'file:../../icons/homeostat.svg', dark: 'file:../../icons/homeostat.dark.svg' },
    group: ['trigger'],
    version: 1,
    subtitle: '={{$parameter["events"].join(", ")}}',
    description:
      'Starts the workflow when a Homeostat alert fires, resolves or is acknowledged, or the model and prompt registry changes',
    defaults: { name: 'Homeostat Trigger' },
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'homeostatApi', required: true, testedBy: 'homeostatApiTest' }],
    webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'homeostat' }],
    properties: [
      {
        displayName: 'Events',
        name: 'events',
        type: 'multiOptions',
        required: true,
        options: [
          { name: 'Acknowledged', value: 'acknowledged', description: 'Someone acknowledged an alert' },
          { name: 'Fired', value: 'fired', description: 'An alert started firing' },
          {
            name: 'Model Alias Moved',
            value: 'registry.alias_moved',
            description: 'A model alias (e.g. production) now points at another version',
          },
          {
            name: 'Model Deploy Failed',
            value: 'registry.deploy_failed',
            description: 'A deploy or rollback of a model version to a host failed',
          },
          { name: 'Model Deployed', value: 'registry.deployed', description: 'A model version went live on a host' },
          {
            name: 'Model Rolled Back',
            value: 'registry.rolled_back',
            description: 'A host was put back on an earlier model version',
          },
          {
            name: 'Prompt Label Moved',
            value: 'registry.prompt.label_moved',
            description: 'A label of a prompt (e.g. production) now points at another version',
          },
          {
            name: 'Prompt Rolled Back',
            value: 'registry.prompt.rolled_back',
            description: 'A prompt label was moved back to an earlier version (by a person or a healing action)',
          },
          {
            name: 'Prompt Version Added',
            value: 'registry.prompt.version_added',
            description: 'A new version of a prompt was added',
          },
          { name: 'Resolved', value: 'resolved', description: 'An alert was resolved' },
        ],
        default: ['fired'],
      },
      {
        displayName: 'Minimum Severity',
        name: 'minSeverity',
        type: 'options',
        options: [
          { name: 'Any', value: '' },
          { name: 'Critical', value: 'critical' },
          { name: 'Error', value: 'error' },
          { name: 'Info', value: 'info' },
          { name: 'Warning', value: 'warning' },
        ],
        default: '',
        description: 'Only alerts at least this severe start the workflow (registry events have no severity)',
      },
    ],
  }

  methods = { credentialTest }

  webhookMethods = {
    default: {
      /** The subscription made at activation still exists on the server. */
      async checkExists(this: IHookFunctions): Promise<boolean> {
        const data = this.getWorkflowStaticData('node')
        if (!data.subscriptionId) return false
        const res = await send(this, 'GET', `/api/v1/webhooks/${encodeURIComponent(String(data.subscriptionId))}`)
        if (res.statusCode === 404) {
          delete data.subscriptionId
          delete data.secret
          return false
        }
        if (res.statusCode >= 400) throw apiError(this, serverError(res.statusCode, res.body))
        return true
      },
      /** Subscribes this webhook's URL; the signing secret comes back once and is kept in the node's static data. */
      async create(this: IHookFunctions): Promise<boolean> {
        const url = this.getNodeWebhookUrl('default')
        if (!url) throw new NodeOperationError(this.getNode(), 'n8n gave no webhook URL for this node')
        const minSeverity = this.getNodeParameter('minSeverity', '') as string
        const body: IDataObject = { url, events: this.getNodeParameter('events', []) as string[] }
        if (minSeverity) body.minSeverity = minSeverity
        const res = await request<{ id: string; secret: string }>(this, 'POST', '/api/v1/webhooks', { body })
        const data = this.getWorkflowStaticData('node')
        data.subscriptionId = res.id
        data.secret = res.secret
        return true
      },
      async delete(this: IHookFunctions): Promise<boolean> {
        const data = this.getWorkflowStaticData('node')
        if (data.subscriptionId) {
          const res = await send(this, 'DELETE', `/api/v1/webhooks/${encodeURIComponent(String(data.subscriptionId))}`)
          if (res.statusCode >= 400 && res.statusCode !== 404)
            throw apiError(this, serverError(res.statusCode, res.body))
        }
        delete data.subscriptionId
        delete data.secret
        return true
      },
    },
  }

  async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
    const req = this.getRequestObject()
    const secret = String(this.getWorkflowStaticData('node').secret ?? '')
    const raw = (req as unknown as { rawBody?: Buffer }).rawBody
    const body = raw ? raw.toString('utf8') : JSON.stringify(this.getBodyData())
    const header = this.getHeaderData() as IDataObject
    const problem = secret
      ? signatureProblem(
          secret,
          header['x-homeostat-signature'] as string | undefined,
          body,
          Math.floor(Date.now() / 1000),
        )
      : 'this trigger has no signing secret (deactivate and activate the workflow)'
    if (problem) {
      const res = this.getResponseObject()
      res.status(401).json({ error: { code: 'bad_signature', message: `Refused: ${problem}` } })
      return { noWebhookResponse: true }
    }
    const delivery = this.getBodyData() as IDataObject
    const events = this.getNodeParameter('events', []) as string[]
    const minSeverity = this.getNodeParameter('minSeverity', '') as string
    const event = String(delivery.event ?? '')
    // A registry event carries its facts in `data` (one item), not alerts.
    if (event.startsWith('registry.') && delivery.data && typeof delivery.data === 'object') {
      if (!events.includes(event)) return { webhookResponse: { received: true, started: false } }
      return {
        webhookResponse: { received: true, started: true },
        workflowData: [
          [
            {
              json: {
                event,
                deliveryId: delivery.id ?? null,
                sentAt: delivery.sentAt ?? null,
                ...(delivery.data as IDataObject),
              },
            },
          ],
        ],
      }
    }
    const alerts = (
      (delivery.alerts as IDataObject[] | undefined) ?? (delivery.alert ? [delivery.alert as IDataObject] : [])
    ).filter((a) => !minSeverity || (SEVERITY_RANK[String(a.severity)] ?? 0) >= (SEVERITY_RANK[minSeverity] ?? 0))
    // A test event, or an event this trigger does not listen to: answer 200, start nothing.
    if (!events.includes(event) || !alerts.length) return { webhookResponse: { received: true, started: false } }
    return {
      webhookResponse: { received: true, started: true },
      workflowData: [
        alerts.map((alert) => ({
          json: {
            event,
            deliveryId: delivery.id ?? null,
            sentAt: delivery.sentAt ?? null,
            groupKey: delivery.groupKey ?? null,
            ...alert,
          },
        })),
      ],
    }
  }
}
