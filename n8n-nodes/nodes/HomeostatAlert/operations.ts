/**
 * The Alert node's Resource and Operation selectors. Version 1 has one flat Operation list (7
 * entries); version 2 groups them by resource, as n8n's style guide and the community-node lint ask
 * past five. Each version's selectors show only on its @version, so saved version 1 workflows keep
 * exactly their parameters; the operation values are the same in both (see ../shared/resources.ts).
 * The option lists are written out in full, not shared: n8n's lint reads each one as a literal.
 */
import type { INodeProperties } from 'n8n-workflow'
import type { Resources } from '../shared/resources'

/** Version 2's resources and the operations of each (the values are those of version 1). */
export const RESOURCES: Resources = {
  alert: ['acknowledge', 'fire', 'get', 'getMany', 'mute', 'resolve'],
  silence: ['createSilence'],
}

export const operationProperties: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [1] } },
    options: [
      {
        name: 'Acknowledge',
        value: 'acknowledge',
        description: 'Acknowledge an alert',
        action: 'Acknowledge an alert',
      },
      {
        name: 'Create Silence',
        value: 'createSilence',
        description: 'Silence alerts whose labels match, for a while',
        action: 'Create a silence',
      },
      {
        name: 'Fire',
        value: 'fire',
        description: 'Report an alert as firing or resolved (the same fingerprint is one alert)',
        action: 'Fire or resolve an alert',
      },
      {
        name: 'Get',
        value: 'get',
        description: 'Get an alert with its history',
        action: 'Get an alert',
      },
      {
        name: 'Get Many',
        value: 'getMany',
        description: 'List alerts, newest first',
        action: 'Get many alerts',
      },
      {
        name: 'Mute',
        value: 'mute',
        description: 'Silence this alert (by its labels) for a while',
        action: 'Mute an alert',
      },
      {
        name: 'Resolve',
        value: 'resolve',
        description: 'Resolve an alert',
        action: 'Resolve an alert',
      },
    ],
    default: 'fire',
  },
  {
    displayName: 'Resource',
    name: 'resource',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2] } },
    options: [
      { name: 'Alert', value: 'alert' },
      { name: 'Silence', value: 'silence' },
    ],
    default: 'alert',
  },
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2], resource: ['alert'] } },
    options: [
      {
        name: 'Acknowledge',
        value: 'acknowledge',
        description: 'Acknowledge an alert',
        action: 'Acknowledge an alert',
      },
      {
        name: 'Fire',
        value: 'fire',
        description: 'Report an alert as firing or resolved (the same fingerprint is one alert)',
        action: 'Fire or resolve an alert',
      },
      {
        name: 'Get',
        value: 'get',
        description: 'Get an alert with its history',
        action: 'Get an alert',
      },
      {
        name: 'Get Many',
        value: 'getMany',
        description: 'List alerts, newest first',
        action: 'Get many alerts',
      },
      {
        name: 'Mute',
        value: 'mute',
        description: 'Silence this alert (by its labels) for a while',
        action: 'Mute an alert',
      },
      {
        name: 'Resolve',
        value: 'resolve',
        description: 'Resolve an alert',
        action: 'Resolve an alert',
      },
    ],
    default: 'fire',
  },
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { '@version': [2], resource: ['silence'] } },
    options: [
      {
        name: 'Create',
        value: 'createSilence',
        description: 'Silence alerts whose labels match, for a while',
        action: 'Create a silence',
      },
    ],
    default: 'createSilence',
  },
]
