/**
 * The Heal node's parameters. Version 1 has one flat Operation list (7 entries), which n8n's style
 * guide and the community-node lint ask to group by resource once a node has more than five; version 2
 * does that (Resource, then Operation per resource). Existing workflows keep typeVersion 1 and see
 * exactly the parameters they were built with: each version's selectors show only on its @version.
 * The operation values stay the same in both versions (unique across resources), so the field
 * parameters below, keyed on `operation` alone, serve both; execute only checks a version 2 pair.
 */
import type { INodeProperties } from 'n8n-workflow'
import type { Resources } from '../shared/resources'

/** Version 2's resources and the operations of each (the values are those of version 1). */
export const RESOURCES: Resources = {
  action: ['approve', 'getAction', 'reject', 'runAction'],
  breaker: ['reportResult'],
  modelRoute: ['getRoute'],
  prompt: ['getPrompt'],
}

/**
 * Version 1: the flat list as it shipped. The option lists are written out in full, not shared: n8n's
 * lint reads each one as a literal.
 */
const v1Operation: INodeProperties = {
  displayName: 'Operation',
  name: 'operation',
  type: 'options',
  noDataExpression: true,
  displayOptions: { show: { '@version': [1] } },
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
}

const v2Resource: INodeProperties = {
  displayName: 'Resource',
  name: 'resource',
  type: 'options',
  noDataExpression: true,
  displayOptions: { show: { '@version': [2] } },
  options: [
    { name: 'Circuit Breaker', value: 'breaker' },
    { name: 'Healing Action', value: 'action' },
    { name: 'Model Route', value: 'modelRoute' },
    { name: 'Prompt', value: 'prompt' },
  ],
  default: 'modelRoute',
}

const v2Operations: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2], resource: ['action'] } },
    options: [
      {
        name: 'Approve',
        value: 'approve',
        description: 'Approve an action waiting for approval: it runs at once',
        action: 'Approve a healing action',
      },
      {
        name: 'Get',
        value: 'getAction',
        description: 'Get a healing action with its timeline',
        action: 'Get a healing action',
      },
      {
        name: 'Reject',
        value: 'reject',
        description: 'Reject an action waiting for approval',
        action: 'Reject a healing action',
      },
      {
        name: 'Run',
        value: 'runAction',
        description: 'Run a healing action (type, target, params), or dry-run it',
        action: 'Run a healing action',
      },
    ],
    default: 'runAction',
  },
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2], resource: ['breaker'] } },
    options: [
      {
        name: 'Report Result',
        value: 'reportResult',
        description: "Report a call's success or failure to a circuit breaker",
        action: 'Report a result to a circuit breaker',
      },
    ],
    default: 'reportResult',
  },
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2], resource: ['modelRoute'] } },
    options: [
      {
        name: 'Get Active Target',
        value: 'getRoute',
        description: 'Get the active target (model, host) of a model route',
        action: 'Get the active target of a model route',
      },
    ],
    default: 'getRoute',
  },
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2], resource: ['prompt'] } },
    options: [
      {
        name: 'Get',
        value: 'getPrompt',
        description: 'Get the live version of a prompt (by label), compiled with variables',
        action: 'Get a prompt compiled with variables',
      },
    ],
    default: 'getPrompt',
  },
]

/** The fields of each operation (shown by operation value, the same in both versions). */
const fields: INodeProperties[] = [
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
]

export const properties: INodeProperties[] = [v1Operation, v2Resource, ...v2Operations, ...fields]
