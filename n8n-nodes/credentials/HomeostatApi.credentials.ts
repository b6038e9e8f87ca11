import type { IAuthenticateGeneric, Icon, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow'

/** Base URL + API key, sent as `Authorization: Bearer <key>`; the test asks `/api/v1/whoami`. */
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
      description: 'A Homeostat API key (Settings → API keys). Alert and Record need the ingest scope or the operator role; Acknowledge, Resolve, Mute, silences and the Trigger need operator.',
      required: true,
    },
  ]

  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: {
      headers: { Authorization: '=Bearer {{$credentials.apiKey}}' },
    },
  }

  test: ICredentialTestRequest = {
    request: {
      baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}',
      url: '/api/v1/whoami',
      method: 'GET',
    },
    rules: [
      { type: 'responseCode', properties: { value: 401, message: 'Homeostat refused the API key (401 Unauthorized): check that the key is complete, not revoked and not expired' } },
      { type: 'responseCode', properties: { value: 403, message: 'Homeostat knows the key but it may not call /api/v1/whoami (403 Forbidden)' } },
      { type: 'responseCode', properties: { value: 404, message: 'No Homeostat API at this base URL (/api/v1/whoami answered 404): give the server address without /api/v1' } },
    ],
  }
}
