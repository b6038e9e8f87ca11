import type { IAuthenticateGeneric, Icon, ICredentialType, INodeProperties } from 'n8n-workflow'

/**
 * Base URL + API key, sent as `Authorization: Bearer <key>`.
 *
 * No declarative `test` here on purpose: n8n 1.x's CredentialsTester uses a credential type's `test`
 * before looking at nodes, and its `rules` can only show fixed messages per status. Every node declares
 * `testedBy: 'homeostatApiTest'` instead (nodes/shared/credential-test.ts: GET /api/v1/whoami, showing
 * Homeostat's own message); the editor shows the Test button when a node with access has `testedBy`.
 */
export class HomeostatApi implements ICredentialType {
  name = 'homeostatApi'

  displayName = 'Homeostat API'

  icon: Icon = { light: 'file:../icons/homeostat.svg', dark: 'file:../icons/homeostat.dark.svg' }

  documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-homeostat#credentials'

  properties: INodeProperties[] = [
    {
      displayName: 'Base URL',
      name: 'baseUrl',
      type: 'string',
      default: 'http://localhost:8787',
      placeholder: 'https://homeostat.example.com',
      description: 'Where Homeostat answers, without /api/v1',
      required: true,
    },
    {
      displayName: 'API Key',
      name: 'apiKey',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      description:
        'A Homeostat API key (Settings → API keys). Alert and Record need the ingest scope or the operator role; Acknowledge, Resolve, Mute, silences and the Trigger need operator.',
      required: true,
    },
  ]

  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: {
      headers: { Authorization: '=Bearer {{$credentials.apiKey}}' },
    },
  }
}
