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
import { checkPair, resourceOf } from '../shared/resources'
import { properties, RESOURCES } from './description'

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
    // 1: one flat Operation list (workflows built with it keep it); 2: Resource, then Operation.
    version: [1, 2],
    defaultVersion: 2,
    subtitle: '={{$parameter["operation"]}}',
    description:
      'Run and decide healing actions, read the active target of a model route or the live prompt, and report call outcomes to circuit breakers',
    defaults: { name: 'Homeostat Heal' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'homeostatApi', required: true, testedBy: 'homeostatApiTest' }],
    properties,
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
    const resource = resourceOf(this)
    return eachItem(this, async (i): Promise<IDataObject> => {
      checkPair(this, i, RESOURCES, resource, operation)
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
