import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow'
import { NodeConnectionTypes } from 'n8n-workflow'
import { asNodeError, errorItem, eachItem, itemError } from '../shared/items'
import { MAX_BATCH, recordPoints, type Pending } from '../shared/metrics'
import { request, type Query } from '../shared/transport'
import { durationMs, metricNameProblem, pairs, show, toLabels, toNumber, toTimestamp } from '../shared/values'
import { credentialTest } from '../shared/credential-test'
import { recordRunStep, runStepProperties } from './runStep'

const aggregations = ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99', 'rate'].map((a) => ({
  name: a,
  value: a,
}))

const labelPairs = (displayName: string, name: string, show: string[], description: string) => ({
  displayName,
  name,
  type: 'fixedCollection' as const,
  typeOptions: { multipleValues: true },
  placeholder: 'Add Label',
  default: {},
  description,
  displayOptions: { show: { operation: show } },
  options: [
    {
      displayName: 'Label',
      name: 'pair',
      values: [
        { displayName: 'Name', name: 'name', type: 'string' as const, default: '', placeholder: 'agent' },
        { displayName: 'Value', name: 'value', type: 'string' as const, default: '', placeholder: 'planner' },
      ],
    },
  ],
})

export class HomeostatMetricsRecord implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Homeostat Metrics Record',
    name: 'homeostatMetricsRecord',
    icon: { light: 'file:../../icons/homeostat.svg', dark: 'file:../../icons/homeostat.dark.svg' },
    group: ['output'],
    version: 1,
    subtitle: '={{$parameter["operation"] + ": " + ($parameter["metricName"] || $parameter["taskId"])}}',
    description: 'Record metric points and run steps in Homeostat, and read metrics back',
    defaults: { name: 'Homeostat Metrics Record' },
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
          { name: 'Query', value: 'query', description: 'Read a metric over a time range', action: 'Query a metric' },
          {
            name: 'Record',
            value: 'record',
            description: 'Record one point per input item, sent in batches',
            action: 'Record metric points',
          },
          {
            name: 'Record Run Step',
            value: 'runStep',
            description:
              "Start or finish a task of a multi-agent run (role, tokens, status); a failure answers the policy's decision",
            action: 'Record a run step',
          },
          {
            name: 'Trends',
            value: 'trends',
            description: 'Change, slope and forecast of a metric over a window',
            action: 'Get the trends of a metric',
          },
        ],
        default: 'record',
      },
      {
        displayName: 'Metric Name',
        name: 'metricName',
        type: 'string',
        required: true,
        default: '',
        placeholder: 'agent_run_duration_seconds',
        description: 'Letters, digits, _ and : only (no spaces, dashes or dots), not starting with a digit',
        displayOptions: { show: { operation: ['query', 'record', 'trends'] } },
      },
      ...runStepProperties,
      {
        displayName: 'Value',
        name: 'value',
        type: 'string',
        required: true,
        default: '={{ $json.value }}',
        description: 'A number, or a numeric text such as "12.5" (usually an expression reading the item)',
        displayOptions: { show: { operation: ['record'] } },
      },
      labelPairs('Labels', 'labels', ['record'], 'Labels of the point, e.g. agent = {{ $json.agent }}'),
      {
        displayName: 'Options',
        name: 'recordOptions',
        type: 'collection',
        placeholder: 'Add Option',
        default: {},
        displayOptions: { show: { operation: ['record'] } },
        options: [
          {
            displayName: 'Timestamp',
            name: 'timestamp',
            type: 'string',
            default: '',
            placeholder: '={{ $json.finishedAt }}',
            description:
              'When the value was measured: RFC 3339 text or epoch milliseconds. Empty: the time the node ran.',
          },
          {
            displayName: 'Batch Size',
            name: 'batchSize',
            type: 'number',
            typeOptions: { minValue: 1, maxValue: MAX_BATCH },
            default: MAX_BATCH,
            description: 'Points per request (at most 1000)',
          },
        ],
      },
      {
        displayName: 'Range',
        name: 'range',
        type: 'string',
        default: '1h',
        description: 'How far back from now, e.g. 15m, 6h, 7d',
        displayOptions: { show: { operation: ['query'] } },
      },
      {
        displayName: 'Window',
        name: 'window',
        type: 'string',
        default: '1h',
        description: 'The window compared with the one before it, e.g. 1h, 1d',
        displayOptions: { show: { operation: ['trends'] } },
      },
      {
        displayName: 'Aggregation',
        name: 'agg',
        type: 'options',
        options: aggregations,
        default: 'avg',
        displayOptions: { show: { operation: ['query', 'trends'] } },
      },
      labelPairs('Label Filters', 'match', ['query', 'trends'], 'Only series whose labels equal these values'),
      {
        displayName: 'Output',
        name: 'output',
        type: 'options',
        options: [
          { name: 'One Item per Series', value: 'series' },
          { name: 'One Item per Point', value: 'points' },
        ],
        default: 'series',
        displayOptions: { show: { operation: ['query'] } },
      },
      {
        displayName: 'Options',
        name: 'queryOptions',
        type: 'collection',
        placeholder: 'Add Option',
        default: {},
        displayOptions: { show: { operation: ['query', 'trends'] } },
        options: [
          {
            displayName: 'Step',
            name: 'step',
            type: 'string',
            default: '',
            placeholder: '5m',
            description: 'Bucket size, e.g. 1m, 5m, 1h. Empty: chosen by the server.',
          },
          {
            displayName: 'Group By',
            name: 'by',
            type: 'string',
            default: '',
            placeholder: 'agent,model',
            description: 'Label names separated by commas',
          },
          {
            displayName: 'Threshold',
            name: 'threshold',
            type: 'number',
            default: 0,
            description: 'Trends only: when the trend line crosses this value',
          },
        ],
      },
    ],
  }

  methods = { credentialTest }

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const operation = this.getNodeParameter('operation', 0) as string
    if (operation === 'record') return record.call(this)
    if (operation === 'runStep') return eachItem(this, (i) => recordRunStep.call(this, i))
    return eachItem(this, async (i) => {
      const name = this.getNodeParameter('metricName', i) as string
      const problem = metricNameProblem(name)
      if (problem) throw itemError(this, i, 'Metric Name', problem)
      const options = this.getNodeParameter('queryOptions', i, {}) as IDataObject
      const match = toLabels(pairs(this.getNodeParameter('match', i, {})), 'Label Filters')
      const query: Query = {
        name,
        agg: this.getNodeParameter('agg', i) as string,
        step: (options.step as string) || undefined,
        by: (options.by as string) || undefined,
      }
      for (const [k, v] of Object.entries(match)) query[`match[${k}]`] = v
      if (operation === 'query') {
        const range = durationMs(this.getNodeParameter('range', i) as string)
        if (!range) throw itemError(this, i, 'Range', 'must be a duration like 15m, 6h or 7d')
        const to = Date.now()
        const res = await request<
          { series: Array<{ labels: IDataObject; values: [string, number | null][] }> } & IDataObject
        >(this, 'GET', '/api/v1/metrics/query', { query: { ...query, from: to - range, to }, itemIndex: i })
        if (this.getNodeParameter('output', i) === 'points')
          return res.series.flatMap((s) => s.values.map(([time, value]) => ({ name, labels: s.labels, time, value })))
        return res.series.map((s) => ({
          name,
          agg: res.agg,
          step: res.step,
          from: res.from,
          to: res.to,
          labels: s.labels,
          values: s.values.map(([time, value]) => ({ time, value })),
        }))
      }
      const window = (this.getNodeParameter('window', i) as string).trim()
      if (!durationMs(window)) throw itemError(this, i, 'Window', 'must be a duration like 1h or 1d')
      if (options.threshold !== undefined) query.threshold = String(options.threshold)
      const res = await request<{ series: IDataObject[] } & IDataObject>(this, 'GET', '/api/v1/metrics/trends', {
        query: { ...query, window },
        itemIndex: i,
      })
      return res.series.map((s) => ({
        name,
        agg: res.agg,
        window: res.window,
        current: res.current,
        previous: res.previous,
        ...s,
      }))
    })
  }
}

/** Record: every item's point is checked here (naming item and field), then sent in batches. */
async function record(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
  const items = this.getInputData()
  const continueOnFail = this.continueOnFail()
  const ranAt = Date.now()
  const results: Array<INodeExecutionData | undefined> = new Array(items.length)
  const pending: Pending[] = []
  let batchSize = MAX_BATCH
  for (let i = 0; i < items.length; i++) {
    try {
      const name = this.getNodeParameter('metricName', i) as string
      const problem = metricNameProblem(name)
      if (problem) throw itemError(this, i, 'Metric Name', problem)
      const raw = this.getNodeParameter('value', i)
      const value = toNumber(raw)
      if (value === undefined) throw itemError(this, i, 'Value', `must be a number, got ${show(raw)}`)
      let labels: Record<string, string>
      try {
        labels = toLabels(pairs(this.getNodeParameter('labels', i, {})), 'Labels')
      } catch (error) {
        throw itemError(this, i, 'Labels', (error as Error).message.replace(/^Labels: /, ''))
      }
      const options = this.getNodeParameter('recordOptions', i, {}) as IDataObject
      if (i === 0 && options.batchSize !== undefined) batchSize = Number(options.batchSize)
      const ts = toTimestamp(options.timestamp)
      if (ts === 'invalid')
        throw itemError(
          this,
          i,
          'Timestamp',
          `must be RFC 3339 text or epoch milliseconds, got ${show(options.timestamp)}`,
        )
      pending.push({ itemIndex: i, point: { name, value, labels, ts: ts ?? ranAt } })
    } catch (error) {
      if (!continueOnFail) throw asNodeError(this, error, i)
      results[i] = errorItem(error, i)
    }
  }
  const { outcomes } = await recordPoints(this, pending, { batchSize, continueOnFail })
  for (const { itemIndex, point } of pending) {
    const outcome = outcomes.get(itemIndex)
    if (outcome && !outcome.ok) results[itemIndex] = errorItem(outcome.error, itemIndex)
    else
      results[itemIndex] = {
        json: {
          recorded: true,
          name: point.name,
          value: point.value,
          labels: point.labels,
          ts: new Date(point.ts).toISOString(),
        },
        pairedItem: { item: itemIndex },
      }
  }
  return [results.filter((r): r is INodeExecutionData => r !== undefined)]
}
