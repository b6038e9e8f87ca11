import type {
  IDataObject,
  IExecuteFunctions,
  INodeExecutionData,
  INodeProperties,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow'
import { NodeConnectionTypes } from 'n8n-workflow'
import { eachItem, itemError } from '../shared/items'
import { paginate, request, type Query } from '../shared/transport'
import { durationMs, LABEL_NAME, pairs, toLabels, toNumber } from '../shared/values'
import { credentialTest } from '../shared/credential-test'
import { checkPair, resourceOf } from '../shared/resources'
import { operationProperties, RESOURCES } from './operations'

const severities = [
  { name: 'Critical', value: 'critical' },
  { name: 'Error', value: 'error' },
  { name: 'Warning', value: 'warning' },
  { name: 'Info', value: 'info' },
]

/**
 * Matcher operators by the Operator option's value. Until 0.1.0 the values were the operators
 * themselves, and n8n read "=" and "=~" as expressions, so they reached the node as "" and "~" (a
 * silence with Equals failed with the server's 400): those, and the operators typed in an
 * expression, are read as meant.
 */
const MATCH_OPS: Record<string, string> = {
  equal: '=',
  notEqual: '!=',
  regex: '=~',
  notRegex: '!~',
  '=': '=',
  '!=': '!=',
  '=~': '=~',
  '!~': '!~',
  '': '=',
  '~': '=~',
}
const OP_NAMES = 'equal, notEqual, regex, notRegex (or = != =~ !~)'

const keyValues = (
  displayName: string,
  name: string,
  operations: string[],
  description: string,
  extra: Partial<INodeProperties> = {},
): INodeProperties => ({
  displayName,
  name,
  type: 'fixedCollection',
  typeOptions: { multipleValues: true },
  placeholder: `Add ${displayName.replace(/s$/, '')}`,
  default: {},
  description,
  displayOptions: { show: { operation: operations } },
  options: [
    {
      displayName: displayName.replace(/s$/, ''),
      name: 'pair',
      values: [
        { displayName: 'Name', name: 'name', type: 'string', default: '' },
        { displayName: 'Value', name: 'value', type: 'string', default: '' },
      ],
    },
  ],
  ...extra,
})

const findAlert = (operations: string[]): INodeProperties[] => [
  {
    displayName: 'Find Alert By',
    name: 'findBy',
    type: 'options',
    options: [
      { name: 'ID', value: 'id' },
      { name: 'Fingerprint', value: 'fingerprint', description: 'The fingerprint given to Fire' },
    ],
    default: 'id',
    displayOptions: { show: { operation: operations } },
  },
  {
    displayName: 'Alert ID',
    name: 'alertId',
    type: 'string',
    required: true,
    default: '={{ $json.id }}',
    description: 'The ID of the alert (from Fire, Get Many or the Homeostat Trigger)',
    displayOptions: { show: { operation: operations, findBy: ['id'] } },
  },
  {
    displayName: 'Fingerprint',
    name: 'alertFingerprint',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'run-42/planner',
    description: 'The fingerprint the alert was fired with',
    displayOptions: { show: { operation: operations, findBy: ['fingerprint'] } },
  },
]

export class HomeostatAlert implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Homeostat Alert',
    name: 'homeostatAlert',
    icon: { light: 'file:../../icons/homeostat.svg', dark: 'file:../../icons/homeostat.dark.svg' },
    group: ['output'],
    // 1: one flat Operation list (workflows built with it keep it); 2: Resource, then Operation.
    version: [1, 2],
    defaultVersion: 2,
    subtitle: '={{$parameter["operation"]}}',
    description: 'Raise, resolve, acknowledge, mute and read Homeostat alerts',
    defaults: { name: 'Homeostat Alert' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'homeostatApi', required: true, testedBy: 'homeostatApiTest' }],
    properties: [
      ...operationProperties,
      // Fire
      {
        displayName: 'Title',
        name: 'title',
        type: 'string',
        required: true,
        default: '',
        placeholder: 'Planner agent failed',
        displayOptions: { show: { operation: ['fire'] } },
      },
      {
        displayName: 'Severity',
        name: 'severity',
        type: 'options',
        options: severities,
        default: 'warning',
        displayOptions: { show: { operation: ['fire'] } },
      },
      {
        displayName: 'Status',
        name: 'status',
        type: 'options',
        options: [
          { name: 'Firing', value: 'firing' },
          { name: 'Resolved', value: 'resolved' },
        ],
        default: 'firing',
        description: 'Resolved closes the alert with the same fingerprint (or the same title and labels)',
        displayOptions: { show: { operation: ['fire'] } },
      },
      {
        displayName: 'Labels Input',
        name: 'labelsMode',
        type: 'options',
        options: [
          { name: 'Key/Value Pairs', value: 'pairs' },
          { name: 'JSON', value: 'json' },
        ],
        default: 'pairs',
        displayOptions: { show: { operation: ['fire'] } },
      },
      keyValues('Labels', 'labels', ['fire'], 'Labels identify the alert (with the title) and route it', {
        displayOptions: { show: { operation: ['fire'], labelsMode: ['pairs'] } },
      }),
      {
        displayName: 'Labels (JSON)',
        name: 'labelsJson',
        type: 'json',
        default: '{}',
        description: 'An object of label names to values',
        displayOptions: { show: { operation: ['fire'], labelsMode: ['json'] } },
      },
      keyValues(
        'Annotations',
        'annotations',
        ['fire'],
        'Free text shown with the alert (summary, description, runbook)',
      ),
      {
        displayName: 'Additional Fields',
        name: 'additionalFields',
        type: 'collection',
        placeholder: 'Add Field',
        default: {},
        displayOptions: { show: { operation: ['fire'] } },
        options: [
          {
            displayName: 'Fingerprint',
            name: 'fingerprint',
            type: 'string',
            default: '',
            description:
              'Your own key for the alert (letters, digits, _ . : @ / -). Firing and resolving with the same fingerprint touch the same alert.',
          },
          {
            displayName: 'Value',
            name: 'value',
            type: 'string',
            default: '',
            description: 'The measured value that caused the alert (a number)',
          },
        ],
      },
      // Acknowledge, Resolve, Get, Mute
      ...findAlert(['acknowledge', 'resolve', 'get', 'mute']),
      {
        displayName: 'Duration',
        name: 'duration',
        type: 'string',
        default: '1h',
        required: true,
        description: 'How long: 30m, 2h, 1d (at least 1m for Mute)',
        displayOptions: { show: { operation: ['mute', 'createSilence'] } },
      },
      {
        displayName: 'Comment',
        name: 'comment',
        type: 'string',
        default: '',
        displayOptions: { show: { operation: ['mute', 'createSilence'] } },
      },
      // Create Silence
      {
        displayName: 'Matchers',
        name: 'matchers',
        type: 'fixedCollection',
        typeOptions: { multipleValues: true },
        placeholder: 'Add Matcher',
        default: {},
        required: true,
        description: 'Alerts whose labels match all of these are silenced',
        displayOptions: { show: { operation: ['createSilence'] } },
        options: [
          {
            displayName: 'Matcher',
            name: 'matcher',
            values: [
              { displayName: 'Label', name: 'label', type: 'string', default: '' },
              {
                displayName: 'Operator',
                name: 'op',
                type: 'options',
                // Words, not the operators: n8n reads a value starting with "=" as an expression.
                options: [
                  { name: 'Equals', value: 'equal' },
                  { name: 'Not Equals', value: 'notEqual' },
                  { name: 'Matches Regex', value: 'regex' },
                  { name: 'Does Not Match Regex', value: 'notRegex' },
                ],
                default: 'equal',
              },
              { displayName: 'Value', name: 'value', type: 'string', default: '' },
            ],
          },
        ],
      },
      // Get Many
      {
        displayName: 'Return All',
        name: 'returnAll',
        type: 'boolean',
        default: false,
        description: 'Whether to return all results or only up to a given limit',
        displayOptions: { show: { operation: ['getMany'] } },
      },
      {
        displayName: 'Limit',
        name: 'limit',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 50,
        description: 'Max number of results to return',
        displayOptions: { show: { operation: ['getMany'], returnAll: [false] } },
      },
      {
        displayName: 'Filters',
        name: 'filters',
        type: 'collection',
        placeholder: 'Add Filter',
        default: {},
        displayOptions: { show: { operation: ['getMany'] } },
        options: [
          {
            displayName: 'Status',
            name: 'status',
            type: 'multiOptions',
            options: [
              { name: 'Acknowledged', value: 'acknowledged' },
              { name: 'Firing', value: 'firing' },
              { name: 'Pending', value: 'pending' },
              { name: 'Resolved', value: 'resolved' },
            ],
            default: [],
          },
          { displayName: 'Severity', name: 'severity', type: 'multiOptions', options: severities, default: [] },
          {
            displayName: 'Labels',
            name: 'labels',
            type: 'fixedCollection',
            typeOptions: { multipleValues: true },
            default: {},
            description: 'Only alerts with these label values',
            options: [
              {
                displayName: 'Label',
                name: 'pair',
                values: [
                  { displayName: 'Name', name: 'name', type: 'string', default: '' },
                  { displayName: 'Value', name: 'value', type: 'string', default: '' },
                ],
              },
            ],
          },
        ],
      },
    ],
  }

  methods = { credentialTest }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const operation = this.getNodeParameter('operation', 0) as string
    const resource = resourceOf(this)
    return eachItem(this, async (i): Promise<IDataObject | IDataObject[]> => {
      checkPair(this, i, RESOURCES, resource, operation)
      const idPath = async () => {
        if (this.getNodeParameter('findBy', i, 'id') === 'fingerprint') {
          const fingerprint = String(this.getNodeParameter('alertFingerprint', i) ?? '').trim()
          if (!fingerprint) throw itemError(this, i, 'Fingerprint', 'is empty')
          // Fire stores `api:<fingerprint>`; a fingerprint copied from an alert already has its prefix.
          for (const stored of fingerprint.includes(':')
            ? [`api:${fingerprint}`, fingerprint]
            : [`api:${fingerprint}`]) {
            const page = await request<{ items: IDataObject[] }>(this, 'GET', '/api/v1/alerts', {
              query: { fingerprint: stored, limit: 1 },
              itemIndex: i,
            })
            if (page.items[0]) return `/api/v1/alerts/${encodeURIComponent(String(page.items[0].id))}`
          }
          throw itemError(this, i, 'Fingerprint', `no alert has the fingerprint "${fingerprint}"`)
        }
        const id = String(this.getNodeParameter('alertId', i) ?? '').trim()
        if (!id) throw itemError(this, i, 'Alert ID', 'is empty')
        return `/api/v1/alerts/${encodeURIComponent(id)}`
      }
      const duration = () => {
        const d = String(this.getNodeParameter('duration', i)).trim()
        if (!durationMs(d)) throw itemError(this, i, 'Duration', `must be a duration like 30m, 2h or 1d, got "${d}"`)
        return d
      }
      const comment = () => (this.getNodeParameter('comment', i, '') as string) || undefined
      switch (operation) {
        case 'fire': {
          const title = String(this.getNodeParameter('title', i) ?? '').trim()
          if (!title) throw itemError(this, i, 'Title', 'is empty')
          const mode = this.getNodeParameter('labelsMode', i) as string
          let labels: Record<string, string>
          let annotations: Record<string, string>
          try {
            labels = toLabels(
              mode === 'json' ? this.getNodeParameter('labelsJson', i) : pairs(this.getNodeParameter('labels', i, {})),
              'Labels',
            )
          } catch (error) {
            throw itemError(this, i, 'Labels', (error as Error).message.replace(/^Labels:? ?/, ''))
          }
          try {
            annotations = Object.fromEntries(
              Object.entries(pairs(this.getNodeParameter('annotations', i, {}))).map(([k, v]) => [
                k,
                typeof v === 'string' ? v : JSON.stringify(v),
              ]),
            )
          } catch (error) {
            throw itemError(this, i, 'Annotations', (error as Error).message)
          }
          const extra = this.getNodeParameter('additionalFields', i, {}) as IDataObject
          const body: IDataObject = {
            title,
            severity: this.getNodeParameter('severity', i),
            status: this.getNodeParameter('status', i),
            labels,
            annotations,
          }
          if (extra.fingerprint) body.fingerprint = String(extra.fingerprint).trim()
          if (extra.value !== undefined && extra.value !== '') {
            const value = toNumber(extra.value)
            if (value === undefined) throw itemError(this, i, 'Value', `must be a number, got "${String(extra.value)}"`)
            body.value = value
          }
          const res = await request<{ change: string; alert: IDataObject | null }>(this, 'POST', '/api/v1/alerts', {
            body,
            itemIndex: i,
          })
          return { change: res.change, ...(res.alert ?? {}) }
        }
        case 'acknowledge':
          return request(this, 'POST', `${await idPath()}/acknowledge`, { itemIndex: i })
        case 'resolve':
          return request(this, 'POST', `${await idPath()}/resolve`, { itemIndex: i })
        case 'get':
          return request(this, 'GET', await idPath(), { itemIndex: i })
        case 'mute':
          return request(this, 'POST', `${await idPath()}/mute`, {
            body: { duration: duration(), ...(comment() ? { comment: comment() } : {}) },
            itemIndex: i,
          })
        case 'createSilence': {
          const list = ((this.getNodeParameter('matchers', i, {}) as IDataObject).matcher ?? []) as Array<{
            label: string
            op: string
            value: string
          }>
          if (!list.length) throw itemError(this, i, 'Matchers', 'add at least one matcher')
          const matchers = list.map((m, n) => {
            if (!LABEL_NAME.test(m.label))
              throw itemError(
                this,
                i,
                `Matchers[${n}].Label`,
                `"${m.label}" is not a label name (letters, digits and _ only)`,
              )
            const op = MATCH_OPS[String(m.op ?? '')]
            if (!op)
              throw itemError(this, i, `Matchers[${n}].Operator`, `must be one of ${OP_NAMES}, got "${String(m.op)}"`)
            return { label: m.label, op, value: String(m.value ?? '') }
          })
          return request(this, 'POST', '/api/v1/silences', {
            body: {
              matchers,
              duration: duration(),
              ...(comment() ? { comment: comment() } : {}),
            },
            itemIndex: i,
          })
        }
        case 'getMany': {
          const filters = this.getNodeParameter('filters', i, {}) as IDataObject
          const returnAll = this.getNodeParameter('returnAll', i) as boolean
          const limit = returnAll ? undefined : (this.getNodeParameter('limit', i) as number)
          const query: Query = {
            status: (filters.status as string[] | undefined)?.join(',') || undefined,
            severity: (filters.severity as string[] | undefined)?.join(',') || undefined,
          }
          let match: Record<string, string>
          try {
            match = toLabels(pairs(filters.labels), 'Labels')
          } catch (error) {
            throw itemError(this, i, 'Filters.Labels', (error as Error).message)
          }
          for (const [k, v] of Object.entries(match)) query[`match[${k}]`] = v
          return paginate(this, '/api/v1/alerts', query, limit, i)
        }
        default:
          throw itemError(this, i, 'Operation', `unknown operation "${operation}"`)
      }
    })
  }
}
