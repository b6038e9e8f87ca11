import type {
  IDataObject,
  IExecuteFunctions,
  ILoadOptionsFunctions,
  INodeExecutionData,
  INodePropertyOptions,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow'
import { NodeConnectionTypes } from 'n8n-workflow'
import { eachItem, itemError } from '../shared/items'
import { request } from '../shared/transport'
import { show, toJsonObject, toNumber } from '../shared/values'
import { credentialTest } from '../shared/credential-test'

/** The same rule the server applies to breaker keys (app/modules/healing/breakers.ts). */
export const BREAKER_KEY = /^(?=.{3,300}$)[A-Za-z0-9][A-Za-z0-9_.-]{0,39}:[A-Za-z0-9._:/@+~=,[\]-]+$/
const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/
/** The server's rules for prompt names, labels and variable names (app/modules/registry/prompts/input.ts). */
const PROMPT_NAME = ROUTE_NAME
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const MAX_ERROR = 1000

/** Used when the server cannot be asked (the list the server shipped with). */
export const ACTION_TYPES = [
  'model_failover',
  'n8n',
  'notify',
  'prompt_rollback',
  'service_restart',
  'webhook',
  'workflow_rollback',
]

type ActionType = { type: string; describe?: string; target?: string }
type RouteAnswer = {
  name: string
  version: number
  activeIndex: number
  active: { model: string; host: string; healthy?: boolean; breakerState?: string | null } | null
  activeOpen?: boolean
  weighted?: boolean
  changedAt?: string | null
  changeReason?: string | null
  targets: Array<{ index: number; breaker?: { key?: string } }>
}

const text = (ctx: IExecuteFunctions, i: number, name: string, field: string) => {
  const value = String(ctx.getNodeParameter(name, i, '') ?? '').trim()
  if (!value) throw itemError(ctx, i, field, 'is empty')
  return value
}

export class HomeostatHeal implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Homeostat Heal',
    name: 'homeostatHeal',
    icon: { light: 'file:../../icons/homeostat.svg', dark: 'file:../../icons/homeostat.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"]}}',
    description:
      'Run and decide healing actions, read the active target of a model route or the live prompt, and report call outcomes to circuit breakers',
    defaults: { name: 'Homeostat Heal' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'homeostatApi', required: true, testedBy: 'homeostatApiTest' }],
    properties: [
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        options: [
          {
            name: 'Approve',
            value: 'approve',
            description: 'Approve an action waiting for approval: it runs at once',
            action: 'Approve a healing action',
          },
          {
            name: 'Get Action',
            value: 'getAction',
            description: 'Get a healing action with its timeline',
            action: 'Get a healing action',
          },
          {
            name: 'Get Prompt',
            value: 'getPrompt',
            description: 'Get the live version of a prompt (by label), compiled with variables',
            action: 'Get a prompt compiled with variables',
          },
          {
            name: 'Get Route',
            value: 'getRoute',
            description: 'Get the active target (model, host) of a model route',
            action: 'Get the active target of a model route',
          },
          {
            name: 'Reject',
            value: 'reject',
            description: 'Reject an action waiting for approval',
            action: 'Reject a healing action',
          },
          {
            name: 'Report Result',
            value: 'reportResult',
            description: "Report a call's success or failure to a circuit breaker",
            action: 'Report a result to a circuit breaker',
          },
          {
            name: 'Run Action',
            value: 'runAction',
            description: 'Run a healing action (type, target, params), or dry-run it',
            action: 'Run a healing action',
          },
        ],
        default: 'getRoute',
      },
      // Run Action
      {
        displayName: 'Action Type Name or ID',
        name: 'actionType',
        type: 'options',
        typeOptions: { loadOptionsMethod: 'getActionTypes' },
        required: true,
        default: '',
        description:
          'What the action does. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
        displayOptions: { show: { operation: ['runAction'] } },
      },
      {
        displayName: 'Target',
        name: 'target',
        type: 'string',
        required: true,
        default: '',
        placeholder: 'chat',
        description:
          'What the action acts on: a model route name (model_failover), an n8n instance name (n8n, workflow_rollback), a command name (service_restart), a service name (webhook)',
        displayOptions: { show: { operation: ['runAction'] } },
      },
      {
        displayName: 'Params (JSON)',
        name: 'params',
        type: 'json',
        default: '{}',
        description:
          'The parameters of the action type, as a JSON object (GET /api/v1/healing/action-types shows each schema)',
        displayOptions: { show: { operation: ['runAction'] } },
      },
      {
        displayName: 'Dry Run',
        name: 'dryRun',
        type: 'boolean',
        default: false,
        description: 'Whether to only check and record what would be done, changing nothing',
        displayOptions: { show: { operation: ['runAction'] } },
      },
      {
        displayName: 'Additional Fields',
        name: 'additionalFields',
        type: 'collection',
        placeholder: 'Add Field',
        default: {},
        displayOptions: { show: { operation: ['runAction'] } },
        options: [
          {
            displayName: 'Idempotency Key',
            name: 'idempotencyKey',
            type: 'string',
            default: '',
            description: 'A retried run with the same key returns the same action instead of a second one',
          },
          {
            displayName: 'Priority',
            name: 'priority',
            type: 'number',
            default: 0,
            description: 'Higher runs first (-1000 to 1000)',
          },
          {
            displayName: 'Reason',
            name: 'reason',
            type: 'string',
            default: '',
            description: 'Why it is run; shown in the action history',
          },
          {
            displayName: 'Requires Approval',
            name: 'requiresApproval',
            type: 'boolean',
            default: false,
            description: 'Whether the action waits for an operator to approve it before it runs',
          },
        ],
      },
      // Get Action, Approve, Reject
      {
        displayName: 'Action ID',
        name: 'actionId',
        type: 'string',
        required: true,
        default: '={{ $json.id }}',
        description: 'The ID of the healing action (from Run Action)',
        displayOptions: { show: { operation: ['getAction', 'approve', 'reject'] } },
      },
      {
        displayName: 'Reason',
        name: 'rejectReason',
        type: 'string',
        default: '',
        description: 'Why it is rejected; kept with the action',
        displayOptions: { show: { operation: ['reject'] } },
      },
      // Get Route
      {
        displayName: 'Route Name',
        name: 'route',
        type: 'string',
        required: true,
        default: '',
        placeholder: 'chat',
        description: 'The name of the model route',
        displayOptions: { show: { operation: ['getRoute'] } },
      },
      {
        displayName: 'Caller Key',
        name: 'callerKey',
        type: 'string',
        default: '',
        placeholder: '={{ $json.userId }}',
        description:
          'On a weighted route (a canary split), who is calling: the same key always gets the same target while weights and health hold. Empty: a weighted random pick on every run.',
        displayOptions: { show: { operation: ['getRoute'] } },
      },
      // Get Prompt
      {
        displayName: 'Prompt Name',
        name: 'prompt',
        type: 'string',
        required: true,
        default: '',
        placeholder: 'support-reply',
        description: 'The name of the prompt in the registry',
        displayOptions: { show: { operation: ['getPrompt'] } },
      },
      {
        displayName: 'Label',
        name: 'label',
        type: 'string',
        default: 'production',
        description: 'The label whose version to get (production, staging, or any)',
        displayOptions: { show: { operation: ['getPrompt'] } },
      },
      {
        displayName: 'Variables (JSON)',
        name: 'variables',
        type: 'json',
        default: '{}',
        description:
          'The values of the template\'s variables, as a JSON object of strings (e.g. {"customer": "ACME"}); every declared variable must be given',
        displayOptions: { show: { operation: ['getPrompt'] } },
      },
      // Report Result
      {
        displayName: 'Breaker Key',
        name: 'breakerKey',
        type: 'string',
        required: true,
        default: '',
        placeholder: "={{ $('Get Route').item.json.breakerKey }}",
        description:
          "The circuit breaker to report to, as kind:name (e.g. model:http://host:11434/llama3 — Get Route gives the active target's key, component:api)",
        displayOptions: { show: { operation: ['reportResult'] } },
      },
      {
        displayName: 'Result',
        name: 'result',
        type: 'options',
        options: [
          { name: 'Success', value: 'success' },
          { name: 'Failure', value: 'failure' },
        ],
        default: 'success',
        description: 'Whether the call succeeded. With an expression: success/failure or true/false.',
        displayOptions: { show: { operation: ['reportResult'] } },
      },
      {
        displayName: 'Error',
        name: 'error',
        type: 'string',
        default: '',
        description:
          "What went wrong, sent with a failure only (kept as the breaker's last error; at most 1000 characters)",
        displayOptions: { show: { operation: ['reportResult'] } },
      },
    ],
  }

  methods = {
    credentialTest,
    loadOptions: {
      async getActionTypes(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
        const res = await request<{ items: ActionType[] }>(this, 'GET', '/api/v1/healing/action-types')
        return res.items.map((t) => ({
          name: t.type,
          value: t.type,
          description: [t.describe, t.target ? `Target: ${t.target}` : ''].filter(Boolean).join('. '),
        }))
      },
    },
  }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const operation = this.getNodeParameter('operation', 0) as string
    return eachItem(this, async (i): Promise<IDataObject> => {
      const actionPath = () => `/api/v1/healing/actions/${encodeURIComponent(text(this, i, 'actionId', 'Action ID'))}`
      switch (operation) {
        case 'runAction': {
          const type = text(this, i, 'actionType', 'Action Type')
          const target = text(this, i, 'target', 'Target')
          let params: IDataObject
          try {
            params = toJsonObject(this.getNodeParameter('params', i, '{}'), '{"url": "https://example.com/restart"}')
          } catch (error) {
            throw itemError(this, i, 'Params', (error as Error).message)
          }
          const extra = this.getNodeParameter('additionalFields', i, {}) as IDataObject
          const body: IDataObject = { type, target, params, dryRun: this.getNodeParameter('dryRun', i, false) === true }
          if (extra.idempotencyKey !== undefined && String(extra.idempotencyKey).trim() !== '')
            body.idempotencyKey = String(extra.idempotencyKey).trim()
          if (extra.reason !== undefined && String(extra.reason).trim() !== '')
            body.reason = String(extra.reason).trim()
          if (extra.requiresApproval === true) body.requiresApproval = true
          if (extra.priority !== undefined && extra.priority !== '' && extra.priority !== 0) {
            const priority = toNumber(extra.priority)
            if (priority === undefined || !Number.isInteger(priority))
              throw itemError(this, i, 'Priority', `must be a whole number, got ${show(extra.priority)}`)
            body.priority = priority
          }
          return request(this, 'POST', '/api/v1/healing/actions', { body, itemIndex: i })
        }
        case 'getAction':
          return request(this, 'GET', actionPath(), { itemIndex: i })
        case 'approve':
          return request(this, 'POST', `${actionPath()}/approve`, { itemIndex: i })
        case 'reject': {
          const path = actionPath()
          const reason = String(this.getNodeParameter('rejectReason', i, '') ?? '').trim()
          return request(this, 'POST', `${path}/reject`, { query: { comment: reason || undefined }, itemIndex: i })
        }
        case 'getRoute': {
          const name = text(this, i, 'route', 'Route Name')
          if (!ROUTE_NAME.test(name))
            throw itemError(
              this,
              i,
              'Route Name',
              `"${name}" is not a route name: 1–100 letters, digits, . _ -, starting with a letter or digit`,
            )
          const key = String(this.getNodeParameter('callerKey', i, '') ?? '').trim()
          const r = await request<RouteAnswer>(this, 'GET', `/api/v1/model-routes/${encodeURIComponent(name)}`, {
            query: { key: key || undefined },
            itemIndex: i,
          })
          if (!r.active) throw itemError(this, i, 'Route Name', `route "${name}" has no active target`)
          return {
            route: r.name,
            model: r.active.model,
            host: r.active.host,
            index: r.activeIndex,
            weighted: r.weighted ?? false,
            version: r.version,
            breakerKey: r.targets[r.activeIndex]?.breaker?.key ?? null,
            breakerState: r.active.breakerState ?? null,
            healthy: r.active.healthy ?? null,
            activeOpen: r.activeOpen ?? false,
            changedAt: r.changedAt ?? null,
            changeReason: r.changeReason ?? null,
          }
        }
        case 'getPrompt': {
          const name = text(this, i, 'prompt', 'Prompt Name')
          if (!PROMPT_NAME.test(name))
            throw itemError(
              this,
              i,
              'Prompt Name',
              `"${name}" is not a prompt name: 1–100 letters, digits, . _ -, starting with a letter or digit`,
            )
          const label = String(this.getNodeParameter('label', i, 'production') ?? '').trim() || 'production'
          if (!LABEL.test(label))
            throw itemError(this, i, 'Label', `"${label}" is not a label: 1–50 letters, digits, . _ -`)
          let variables: IDataObject
          try {
            variables = toJsonObject(this.getNodeParameter('variables', i, '{}'), '{"customer": "ACME"}')
          } catch (error) {
            throw itemError(this, i, 'Variables', (error as Error).message)
          }
          const query: Record<string, string> = { label }
          for (const [k, value] of Object.entries(variables)) {
            if (!VARIABLE.test(k)) throw itemError(this, i, 'Variables', `"${k}" is not a variable name`)
            query[`var.${k}`] = typeof value === 'string' ? value : JSON.stringify(value)
          }
          const r = await request<IDataObject>(this, 'GET', `/api/v1/prompts/${encodeURIComponent(name)}`, {
            query,
            itemIndex: i,
          })
          return {
            prompt: r.name,
            label: r.label,
            version: r.version,
            compiled: r.compiled,
            template: r.template,
            variables: r.variables,
            parameters: r.parameters,
          }
        }
        case 'reportResult': {
          const key = text(this, i, 'breakerKey', 'Breaker Key')
          if (!BREAKER_KEY.test(key))
            throw itemError(
              this,
              i,
              'Breaker Key',
              `"${key}" must be <kind>:<name> (e.g. model:http://host:11434/llama3, component:api), 3–300 characters: letters, digits and . _ : / @ + ~ = , [ ] -`,
            )
          const raw = this.getNodeParameter('result', i) as unknown
          const ok =
            raw === true || raw === 'success' || raw === 'true'
              ? true
              : raw === false || raw === 'failure' || raw === 'false'
                ? false
                : undefined
          if (ok === undefined)
            throw itemError(this, i, 'Result', `must be success or failure (or true/false), got ${show(raw)}`)
          const body: IDataObject = { status: ok ? 'success' : 'failure' }
          if (!ok) {
            const error = this.getNodeParameter('error', i, '') as unknown
            const message =
              typeof error === 'string'
                ? error.trim()
                : error === undefined || error === null
                  ? ''
                  : JSON.stringify(error)
            if (message) body.error = message.length > MAX_ERROR ? `${message.slice(0, MAX_ERROR - 1)}…` : message
          }
          const res = await request<IDataObject>(
            this,
            'POST',
            `/api/v1/healing/breakers/${encodeURIComponent(key)}/report`,
            { body, itemIndex: i },
          )
          return { reported: body.status, ...res }
        }
        default:
          throw itemError(this, i, 'Operation', `unknown operation "${operation}"`)
      }
    })
  }
}
