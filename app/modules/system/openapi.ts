import type { GenericSchema } from 'valibot'
import { isScope, type RouteInfo } from '../../lib/route-meta.ts'

type JsonSchema = { properties?: Record<string, unknown>; required?: string[] } & Record<string, unknown>

const errorResponse = {
  description: 'Error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
}

/**
 * The OpenAPI 3.1 document, built from the route table and the very schemas routes validate with.
 * The converter loads on first use: an idle server does not hold it in memory.
 */
export async function buildOpenApi(routes: RouteInfo[], version: string, serverUrl: string) {
  const { toJsonSchema } = await import('@valibot/to-json-schema')
  const schemaOf = (schema: GenericSchema) =>
    toJsonSchema(schema, { errorMode: 'ignore', typeMode: 'input' }) as JsonSchema
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    if (r.path.startsWith('/static') || r.path === '*') continue
    const isApi = r.path.startsWith('/api/') || ['/health', '/ready', '/metrics'].includes(r.path)
    if (!isApi) continue
    const path = r.path.replace(/:(\w+)/g, '{$1}')
    const parameters: unknown[] = []
    let requestBody: unknown
    for (const input of r.inputs) {
      const js = schemaOf(input.schema)
      if (input.target === 'json' || input.target === 'form') {
        const type = input.target === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'
        requestBody = { required: true, content: { [type]: { schema: js } } }
      } else {
        for (const [name, schema] of Object.entries(js.properties ?? {})) {
          parameters.push({
            name,
            in: input.target === 'param' ? 'path' : 'query',
            required: input.target === 'param' || (js.required ?? []).includes(name),
            schema,
          })
        }
      }
    }
    const access = r.access ?? 'admin'
    paths[path] ??= {}
    paths[path]![r.method.toLowerCase()] = {
      summary: r.summary ?? '',
      tags: r.tags ?? [],
      'x-access': access,
      description:
        access === 'public'
          ? 'No authentication.'
          : `Needs: ${isScope(access) ? `an API key with scope ${access}, or role ${access === 'routes' ? 'viewer' : 'operator'} or higher` : access === 'authenticated' ? 'any valid key or session' : `role ${access} or higher`}.`,
      security: access === 'public' ? [] : [{ bearer: [] }, { apiKey: [] }, { session: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: {
        [String(r.success ?? 200)]: { description: 'Success' },
        ...(r.inputs.length ? { 400: errorResponse } : {}),
        ...(access === 'public' ? {} : { 401: errorResponse, 403: errorResponse }),
        429: errorResponse,
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Homeostat API',
      version,
      description: 'Metrics, alerts, self-healing and backups for AI agents, n8n workflows and LLM models.',
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer hs_…' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'hs_session',
          description: 'Dashboard session; unsafe methods also need X-CSRF-Token',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                details: {
                  type: ['array', 'object', 'null'],
                  items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
                },
                requestId: { type: 'string' },
              },
              required: ['code', 'message', 'requestId'],
            },
          },
        },
      },
    },
  }
}
