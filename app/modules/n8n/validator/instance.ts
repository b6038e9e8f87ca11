/**
 * Validating what an n8n instance runs: its workflows read through n8n's public API (the backups
 * module's client: spaced calls, backoff on 429/5xx, the outbound policy), its credential types
 * checked one call per distinct type. Made once by the composition root; the API route and the
 * CLI call it.
 */
import type { Db } from '../../../../db/client.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { AppError, notFound } from '../../../lib/errors.ts'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import { N8nApiError, n8nClient } from '../api/client.ts'
import { listN8nInstances, openN8nApiKey } from '../../healing/index.ts'
import type { Candidate, InstanceFacts, Report } from './types.ts'
import { validateWorkflows } from './validate.ts'

export type WorkflowValidatorDeps = {
  db: Db
  sealer: Sealer
  outbound: OutboundPolicy
  /** Most calls a second to one instance (WORKFLOW_PULL_MAX_RPS, shared with the history pull). */
  maxRps: number
  backoffMs?: number
  retries?: number
  sleep?: (ms: number) => Promise<void>
}

/** Credential types the workflows use, for the schema calls. */
function credentialTypes(candidates: Candidate[]): Set<string> {
  const types = new Set<string>()
  for (const { json } of candidates) {
    const nodes = (json as { nodes?: unknown }).nodes
    if (!Array.isArray(nodes)) continue
    for (const node of nodes) {
      const creds = (node as { credentials?: unknown } | null)?.credentials
      if (creds && typeof creds === 'object') for (const type of Object.keys(creds)) types.add(type)
    }
  }
  return types
}

export function createWorkflowValidator(deps: WorkflowValidatorDeps) {
  /** The instance by name (or id), as registered for healing. */
  async function instanceNamed(name: string) {
    const row = (await listN8nInstances(deps.db)).find((r) => r.name === name || r.id === name)
    if (!row) throw notFound(`n8n instance "${name}"`)
    return row
  }

  /**
   * Every workflow of the instance, with its pin data, validated together (duplicate webhooks are
   * found across them). `credentials`: the instance's credential list when the caller has one
   * (n8n's public API has no list); without it only unknown credential types are found.
   */
  async function validateInstance(
    name: string,
    opts: { credentials?: InstanceFacts['credentials'] } = {},
  ): Promise<Report & { instance: string; calls: number }> {
    const instance = await instanceNamed(name)
    const client = n8nClient(
      { name: instance.name, baseUrl: instance.baseUrl, apiKey: openN8nApiKey(deps.sealer, instance) },
      {
        outbound: deps.outbound,
        maxRps: deps.maxRps,
        backoffMs: deps.backoffMs ?? 1000,
        retries: deps.retries ?? 4,
        sleep: deps.sleep,
      },
    )
    try {
      const candidates: Candidate[] = []
      for await (const wf of client.workflows(100, { pinnedData: true }))
        candidates.push({ source: `${instance.name}/${String(wf.id)}`, json: wf })
      const known = new Map<string, boolean>()
      for (const type of credentialTypes(candidates)) known.set(type, await client.credentialTypeKnown(type))
      const report = validateWorkflows(candidates, { credentials: opts.credentials, credentialTypes: known })
      return { instance: instance.name, calls: client.calls(), ...report }
    } catch (error) {
      if (error instanceof N8nApiError)
        throw new AppError(502, error.status === null ? 'n8n_unreachable' : 'n8n_error', error.message)
      throw error
    }
  }

  return { validateInstance }
}

export type WorkflowValidator = ReturnType<typeof createWorkflowValidator>
