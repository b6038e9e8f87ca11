import type {
  IDataObject,
  IExecuteFunctions,
  ILoadOptionsFunctions,
  INodeExecutionData,
  INodePropertyOptions,
  INodeType,
  INodeTypeDescription,
  JsonObject,
} from 'n8n-workflow'
import { NodeApiError, NodeConnectionTypes } from 'n8n-workflow'
import { credentialTest } from '../shared/credential-test'
import { eachItem, itemError } from '../shared/items'
import { type Context, paginate, request, send, serverError, apiError } from '../shared/transport'
import { show, toNumber } from '../shared/values'

/** The same rules the server applies (backups/workflows/input.ts, backups/snapshots/input.ts). */
const ID = /^.{1,100}$/s
const BACKUP_STATUSES = ['running', 'good', 'failed', 'pruned']

type WorkflowRow = { instance: string; instanceName?: string | null; id: string; name: string }
type Version = IDataObject & { version: number; name?: string }

const text = (ctx: IExecuteFunctions, i: number, name: string, field: string) => {
  const value = String(ctx.getNodeParameter(name, i, '') ?? '').trim()
  if (!value) throw itemError(ctx, i, field, 'is empty')
  if (!ID.test(value)) throw itemError(ctx, i, field, 'must be at most 100 characters')
  return value
}

/** A version number from a number or digits; 0 or empty is "not given" when `optional`. */
function versionOf(ctx: IExecuteFunctions, i: number, name: string, field: string, optional = false) {
  const raw = ctx.getNodeParameter(name, i, optional ? 0 : undefined) as unknown
  const n = toNumber(raw)
  if (optional && (raw === '' || raw === undefined || raw === null || n === 0)) return undefined
  if (n === undefined || !Number.isInteger(n) || n < 1)
    throw itemError(ctx, i, field, `must be a version number (1, 2, 3…), got ${show(raw)}`)
  return n
}

/** Return All, or the Limit as a whole number ≥ 1. */
function limitOf(ctx: IExecuteFunctions, i: number) {
  if (ctx.getNodeParameter('returnAll', i, false) === true) return undefined
  const raw = ctx.getNodeParameter('limit', i, 50) as unknown
  const n = toNumber(raw)
  if (n === undefined || !Number.isInteger(n) || n < 1)
    throw itemError(ctx, i, 'Limit', `must be a whole number of at least 1, got ${show(raw)}`)
  return n
}

/** Workflows with stored versions: what the instance list and name lookup read (viewer). */
const workflows = async (ctx: Context) =>
  (await request<{ items: WorkflowRow[] }>(ctx, 'GET', '/api/v1/n8n/workflows')).items

export class HomeostatBackup implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Homeostat Backup',
    name: 'homeostatBackup',
    icon: { light: 'file:../../icons/homeostat-backup.svg', dark: 'file:../../icons/homeostat-backup.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"]}}',
    description:
      "Back up Homeostat's database and other targets, list backups, read an n8n workflow's version history and roll it back",
    defaults: { name: 'Homeostat Backup' },
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
            name: 'Create Backup',
            value: 'createBackup',
            description: 'Start a backup of a target (Homeostat itself by default), optionally waiting until verified',
            action: 'Create a backup',
          },
          {
            name: 'Get Workflow History',
            value: 'getWorkflowHistory',
            description: "An n8n workflow's stored versions, and optionally the diff between two of them",
            action: 'Get the version history of an n8n workflow',
          },
          {
            name: 'List Backups',
            value: 'listBackups',
            description: 'List backups, newest first, filtered by target and status',
            action: 'List backups',
          },
          {
            name: 'Roll Back Workflow',
            value: 'rollbackWorkflow',
            description: 'Put an earlier version of an n8n workflow back into n8n (same ID and active state)',
            action: 'Roll back an n8n workflow',
          },
        ],
        default: 'listBackups',
      },
      // Create Backup
      {
        displayName: 'Target',
        name: 'target',
        type: 'string',
        default: '',
        placeholder: 'homeostat',
        description: "The backup target's name or ID; empty for Homeostat's own database (the homeostat target)",
        displayOptions: { show: { operation: ['createBackup'] } },
      },
      {
        displayName: 'Wait for Verification',
        name: 'wait',
        type: 'boolean',
        default: false,
        description:
          'Whether to answer once the backup is written and verified (a failed one fails the item) instead of at once while it runs',
        displayOptions: { show: { operation: ['createBackup'] } },
      },
      // List Backups
      {
        displayName: 'Return All',
        name: 'returnAll',
        type: 'boolean',
        default: false,
        description: 'Whether to return all results or only up to a given limit',
        displayOptions: { show: { operation: ['listBackups', 'getWorkflowHistory'] } },
      },
      {
        displayName: 'Limit',
        name: 'limit',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 50,
        description: 'Max number of results to return',
        displayOptions: { show: { operation: ['listBackups', 'getWorkflowHistory'], returnAll: [false] } },
      },
      {
        displayName: 'Filters',
        name: 'filters',
        type: 'collection',
        placeholder: 'Add Filter',
        default: {},
        displayOptions: { show: { operation: ['listBackups'] } },
        options: [
          {
            displayName: 'Status',
            name: 'status',
            type: 'options',
            options: [
              { name: 'Failed', value: 'failed' },
              { name: 'Good', value: 'good' },
              { name: 'Pruned', value: 'pruned' },
              { name: 'Running', value: 'running' },
            ],
            default: 'good',
            description: 'Only backups in this state',
          },
          {
            displayName: 'Target',
            name: 'target',
            type: 'string',
            default: '',
            placeholder: 'homeostat',
            description: 'Only backups of this target (its name or ID)',
          },
        ],
      },
      // Workflow history and rollback
      {
        displayName: 'Instance Name or ID',
        name: 'instance',
        type: 'options',
        typeOptions: { loadOptionsMethod: 'getInstances' },
        required: true,
        default: '',
        description:
          'The n8n instance registered in Homeostat. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
        displayOptions: { show: { operation: ['getWorkflowHistory', 'rollbackWorkflow'] } },
      },
      {
        displayName: 'Workflow ID',
        name: 'workflowId',
        type: 'string',
        required: true,
        default: '',
        placeholder: 'fGk9XmS0lGv8fXy1',
        description: "The workflow's ID in that n8n instance (the last part of its editor URL)",
        displayOptions: { show: { operation: ['getWorkflowHistory', 'rollbackWorkflow'] } },
      },
      {
        displayName: 'Include Diff',
        name: 'includeDiff',
        type: 'boolean',
        default: false,
        description:
          'Whether to add the structured diff between two versions (nodes added, removed, renamed, parameters, connections, settings)',
        displayOptions: { show: { operation: ['getWorkflowHistory'] } },
      },
      {
        displayName: 'Diff From Version',
        name: 'diffFrom',
        type: 'number',
        typeOptions: { minValue: 0 },
        default: 0,
        description: 'The older version; 0 for the one before Diff To Version',
        displayOptions: { show: { operation: ['getWorkflowHistory'], includeDiff: [true] } },
      },
      {
        displayName: 'Diff To Version',
        name: 'diffTo',
        type: 'number',
        typeOptions: { minValue: 0 },
        default: 0,
        description: 'The newer version; 0 for the latest',
        displayOptions: { show: { operation: ['getWorkflowHistory'], includeDiff: [true] } },
      },
      {
        displayName: 'Roll Back To',
        name: 'rollbackTo',
        type: 'options',
        options: [
          { name: 'Previous Version', value: 'previous', description: 'The version before the current one' },
          { name: 'Version Number', value: 'version', description: 'A version from the history' },
        ],
        default: 'previous',
        displayOptions: { show: { operation: ['rollbackWorkflow'] } },
      },
      {
        displayName: 'Version',
        name: 'version',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 1,
        description: 'The version number to put back (Get Workflow History lists them)',
        displayOptions: { show: { operation: ['rollbackWorkflow'], rollbackTo: ['version'] } },
      },
      {
        displayName: 'Re-Create If Deleted',
        name: 'recreate',
        type: 'boolean',
        default: false,
        description:
          'Whether to create the workflow again when it was deleted in n8n (n8n then gives it a new ID); otherwise that fails',
        displayOptions: { show: { operation: ['rollbackWorkflow'] } },
      },
    ],
  }

  methods = {
    credentialTest,
    loadOptions: {
      async getInstances(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
        const seen = new Map<string, INodePropertyOptions>()
        for (const w of await workflows(this))
          if (!seen.has(w.instance))
            seen.set(w.instance, { name: w.instanceName ?? w.instance, value: w.instance, description: w.instance })
        return [...seen.values()]
      },
    },
  }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const operation = this.getNodeParameter('operation', 0) as string
    // Instance names to IDs, read once per run when an item names an instance by name.
    let known: Promise<WorkflowRow[]> | undefined
    const instanceId = async (i: number) => {
      const value = text(this, i, 'instance', 'Instance')
      known ??= workflows(this)
      const rows = await known
      if (rows.some((w) => w.instance === value)) return value
      return rows.find((w) => w.instanceName === value)?.instance ?? value
    }
    return eachItem(this, async (i): Promise<IDataObject | IDataObject[]> => {
      switch (operation) {
        case 'createBackup': {
          const target = String(this.getNodeParameter('target', i, '') ?? '').trim()
          if (target.length > 100) throw itemError(this, i, 'Target', 'must be at most 100 characters')
          const wait = this.getNodeParameter('wait', i, false) === true
          // `wait` always goes: n8n leaves an empty object out, and the server wants a JSON body.
          const body: IDataObject = { ...(target ? { target } : {}), wait }
          const res = await send(this, 'POST', '/api/v1/backups', { body, itemIndex: i })
          const b = res.body as IDataObject
          // With wait, a backup that failed is answered as the backup itself (500, status failed).
          if (res.statusCode >= 400 && b && typeof b === 'object' && b.status === 'failed')
            throw new NodeApiError(this.getNode(), b as JsonObject, {
              message: `Homeostat: backup ${String(b.id)} of ${String(b.target)} failed: ${String(b.error ?? 'no reason given')} [HTTP ${res.statusCode}]`,
              httpCode: String(res.statusCode),
              itemIndex: i,
            })
          if (res.statusCode >= 400) throw apiError(this, serverError(res.statusCode, res.body), i)
          return b
        }
        case 'listBackups': {
          const filters = this.getNodeParameter('filters', i, {}) as IDataObject
          const target = String(filters.target ?? '').trim()
          const status = String(filters.status ?? '').trim()
          if (status && !BACKUP_STATUSES.includes(status))
            throw itemError(
              this,
              i,
              'Filters.Status',
              `must be one of ${BACKUP_STATUSES.join(', ')}, got ${show(status)}`,
            )
          const limit = limitOf(this, i)
          return paginate(
            this,
            '/api/v1/backups',
            { target: target || undefined, status: status || undefined },
            limit,
            i,
          )
        }
        case 'getWorkflowHistory': {
          const instance = await instanceId(i)
          const workflowId = text(this, i, 'workflowId', 'Workflow ID')
          const limit = limitOf(this, i)
          const includeDiff = this.getNodeParameter('includeDiff', i, false) === true
          const diffTo = includeDiff ? versionOf(this, i, 'diffTo', 'Diff To Version', true) : undefined
          const diffFrom = includeDiff ? versionOf(this, i, 'diffFrom', 'Diff From Version', true) : undefined
          const path = `/api/v1/n8n/workflows/${encodeURIComponent(workflowId)}`
          const versions = (await paginate(this, `${path}/versions`, { instance }, limit, i)) as Version[]
          const latest = versions[0]?.version
          const out: IDataObject = {
            instance,
            workflowId,
            name: versions[0]?.name ?? null,
            latestVersion: latest ?? null,
            versions,
          }
          if (includeDiff) {
            const to = diffTo ?? latest
            if (to === undefined) throw itemError(this, i, 'Workflow ID', `no stored versions of ${workflowId}`)
            const from = diffFrom ?? to - 1
            if (from < 1)
              throw itemError(this, i, 'Diff From Version', `version ${to} is the first: there is none before it`)
            out.diff = await request(this, 'GET', `${path}/diff`, { query: { instance, from, to }, itemIndex: i })
          }
          return out
        }
        case 'rollbackWorkflow': {
          const instance = await instanceId(i)
          const workflowId = text(this, i, 'workflowId', 'Workflow ID')
          const mode = this.getNodeParameter('rollbackTo', i, 'previous') as string
          if (mode !== 'previous' && mode !== 'version')
            throw itemError(this, i, 'Roll Back To', `must be previous or version, got ${show(mode)}`)
          const to = mode === 'previous' ? 'previous' : versionOf(this, i, 'version', 'Version')
          const body: IDataObject = { to }
          if (this.getNodeParameter('recreate', i, false) === true) body.recreate = true
          return request(this, 'POST', `/api/v1/n8n/workflows/${encodeURIComponent(workflowId)}/rollback`, {
            query: { instance },
            body,
            itemIndex: i,
          })
        }
        default:
          throw itemError(this, i, 'Operation', `unknown operation "${operation}"`)
      }
    })
  }
}
