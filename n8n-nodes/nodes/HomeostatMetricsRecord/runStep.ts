/**
 * The Metrics Record node's "Record run step" operation: an agent team built in n8n reports its
 * tasks to Homeostat's runs API (docs/runs.md). Start puts the task running; finish records it
 * succeeded or skipped, or reports the failure and outputs the policy's decision (retry, branch,
 * escalate) so the workflow can route on it.
 */
import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow'
import { itemError } from '../shared/items'
import { request } from '../shared/transport'
import { show, toNumber } from '../shared/values'

const show_ = { operation: ['runStep'] }
/** The server's id rule (app/modules/runs/input.ts), checked here so the message names the field. */
const ID = /^[\w.:@~-]{1,200}$/
const ROLE = /^[\w.-]{1,100}$/

export const runStepProperties: INodeProperties[] = [
  {
    displayName: 'Step',
    name: 'step',
    type: 'options',
    noDataExpression: true,
    options: [
      { name: 'Start Task', value: 'start', description: 'The task is running from now' },
      { name: 'Finish Task', value: 'finish', description: 'The task ended: succeeded, failed or skipped' },
    ],
    default: 'start',
    displayOptions: { show: show_ },
  },
  {
    displayName: 'Run ID',
    name: 'runId',
    type: 'string',
    required: true,
    default: '={{ $execution.id }}',
    description: "The run's ID (yours, e.g. the orchestrating execution's); the run is created by its first task",
    displayOptions: { show: show_ },
  },
  {
    displayName: 'Task ID',
    name: 'taskId',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'plan',
    description: 'Unique in its run; start and finish of one task use the same ID',
    displayOptions: { show: show_ },
  },
  {
    displayName: 'Role',
    name: 'role',
    type: 'string',
    default: '',
    placeholder: 'coder',
    description: 'The agent role doing the task (planner, coder, tester, …)',
    displayOptions: { show: show_ },
  },
  {
    displayName: 'Title',
    name: 'title',
    type: 'string',
    default: '',
    placeholder: 'Write the fix',
    displayOptions: { show: show_ },
  },
  {
    displayName: 'Status',
    name: 'status',
    type: 'options',
    options: [
      { name: 'Succeeded', value: 'succeeded' },
      { name: 'Failed', value: 'failed', description: 'Reports the failure and outputs the decision' },
      { name: 'Skipped', value: 'skipped' },
    ],
    default: 'succeeded',
    displayOptions: { show: { ...show_, step: ['finish'] } },
  },
  {
    displayName: 'Error',
    name: 'error',
    type: 'string',
    default: '',
    placeholder: '={{ $json.error.message }}',
    description: 'What went wrong: Homeostat classifies it (syntax, test_failure, rate_limit, …)',
    displayOptions: { show: { ...show_, step: ['finish'], status: ['failed'] } },
  },
  {
    displayName: 'Options',
    name: 'runStepOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: { show: show_ },
    options: [
      { displayName: 'Attempt', name: 'attempt', type: 'number', typeOptions: { minValue: 1 }, default: 1 },
      {
        displayName: 'Cost (USD)',
        name: 'costUsd',
        type: 'number',
        typeOptions: { minValue: 0, numberPrecision: 6 },
        default: 0,
        description: "Empty: computed from the tokens and the model's price",
      },
      {
        displayName: 'Depends On',
        name: 'dependsOn',
        type: 'string',
        default: '',
        placeholder: 'plan,design',
        description: 'Task IDs this task waits for, separated by commas',
      },
      { displayName: 'Input Tokens', name: 'inputTokens', type: 'number', typeOptions: { minValue: 0 }, default: 0 },
      { displayName: 'Model', name: 'model', type: 'string', default: '', placeholder: 'gpt-4o' },
      { displayName: 'Output Tokens', name: 'outputTokens', type: 'number', typeOptions: { minValue: 0 }, default: 0 },
      { displayName: 'Parent Task ID', name: 'parentId', type: 'string', default: '' },
      {
        displayName: 'Run Goal',
        name: 'goal',
        type: 'string',
        default: '',
        description: 'Also records the run with this goal (e.g. on the first task)',
      },
    ],
  },
]

const str = (v: unknown) => (typeof v === 'string' ? v.trim() : v == null ? '' : String(v))

/** A whole, non-negative count from an option (n8n gives numbers; an expression may give text). */
function count(ctx: IExecuteFunctions, i: number, field: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = toNumber(raw)
  if (n === undefined || n < 0 || !Number.isInteger(n))
    throw itemError(ctx, i, field, `must be a whole number of at least 0, got ${show(raw)}`)
  return n
}

/** One item's step: validated here (messages name the field), then sent to the runs API. */
export async function recordRunStep(this: IExecuteFunctions, i: number): Promise<IDataObject> {
  const step = this.getNodeParameter('step', i) as 'start' | 'finish'
  const runId = str(this.getNodeParameter('runId', i))
  const taskId = str(this.getNodeParameter('taskId', i))
  if (!ID.test(runId))
    throw itemError(this, i, 'Run ID', `must be 1-200 letters, digits or _ . : @ ~ -, got ${show(runId)}`)
  if (!ID.test(taskId))
    throw itemError(this, i, 'Task ID', `must be 1-200 letters, digits or _ . : @ ~ -, got ${show(taskId)}`)
  const role = str(this.getNodeParameter('role', i, ''))
  if (role && !ROLE.test(role))
    throw itemError(this, i, 'Role', `must be 1-100 letters, digits or _ . -, got ${show(role)}`)
  const title = str(this.getNodeParameter('title', i, ''))
  const o = this.getNodeParameter('runStepOptions', i, {}) as IDataObject
  const dependsOn = str(o.dependsOn)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = dependsOn.find((d) => !ID.test(d))
  if (bad) throw itemError(this, i, 'Depends On', `${show(bad)} is not a task ID`)
  const parentId = str(o.parentId)
  if (parentId && !ID.test(parentId)) throw itemError(this, i, 'Parent Task ID', `${show(parentId)} is not a task ID`)
  const cost = o.costUsd === undefined || o.costUsd === '' ? undefined : toNumber(o.costUsd)
  if (cost !== undefined && cost < 0)
    throw itemError(this, i, 'Cost (USD)', `must be at least 0, got ${show(o.costUsd)}`)
  if (o.costUsd !== undefined && o.costUsd !== '' && cost === undefined)
    throw itemError(this, i, 'Cost (USD)', `must be a number, got ${show(o.costUsd)}`)
  const usage: IDataObject = {}
  const input = count(this, i, 'Input Tokens', o.inputTokens)
  const output = count(this, i, 'Output Tokens', o.outputTokens)
  const attempt = count(this, i, 'Attempt', o.attempt)
  if (attempt === 0) throw itemError(this, i, 'Attempt', 'must be at least 1')
  if (input !== undefined) usage.inputTokens = input
  if (output !== undefined) usage.outputTokens = output
  if (cost !== undefined) usage.costUsd = cost
  if (str(o.model)) usage.model = str(o.model)

  const path = `/api/v1/runs/${encodeURIComponent(runId)}`
  const taskPath = `${path}/tasks/${encodeURIComponent(taskId)}`
  const at = Date.now()
  if (str(o.goal)) await request(this, 'PUT', path, { body: { goal: str(o.goal) }, itemIndex: i })

  const shape: IDataObject = {}
  if (role) shape.role = role
  if (title) shape.title = title
  if (dependsOn.length) shape.dependsOn = dependsOn
  if (parentId) shape.parentId = parentId
  if (attempt !== undefined) shape.attempt = attempt

  if (step === 'start') {
    const task = await request(this, 'PUT', taskPath, {
      body: { ...shape, ...usage, status: 'running', startedAt: at },
      itemIndex: i,
    })
    return { step, task }
  }
  const status = this.getNodeParameter('status', i) as 'succeeded' | 'failed' | 'skipped'
  if (status !== 'failed') {
    const task = await request(this, 'PUT', taskPath, {
      body: { ...shape, ...usage, status, endedAt: at },
      itemIndex: i,
    })
    return { step, task }
  }
  const error = str(this.getNodeParameter('error', i, ''))
  if (!error) throw itemError(this, i, 'Error', 'must say what went wrong when the status is Failed')
  // The task's shape first (role, title, …), so the failure is classified with its role.
  if (Object.keys(shape).length) await request(this, 'PUT', taskPath, { body: shape, itemIndex: i })
  const decision = await request(this, 'POST', `${taskPath}/failed`, {
    body: { error: error.slice(0, 20_000), endedAt: at, ...usage, ...(attempt ? { attempt } : {}) },
    itemIndex: i,
  })
  return { step, decision }
}
