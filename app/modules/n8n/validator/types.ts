/**
 * The validator's vocabulary: a finding (rule id, severity, node, message), the workflow as the
 * rules read it, and what an instance tells about its credentials.
 */
export type Severity = 'error' | 'warning' | 'info'

export type Finding = { rule: RuleId; severity: Severity; node?: string; message: string }

/** Every rule id, so a report, a test or a user's CI filter can name them. */
export const RULES = [
  'shape',
  'connection-missing-node',
  'orphan-node',
  'active-without-trigger',
  'expression-missing-node',
  'duplicate-webhook',
  'credential-missing',
  'disabled-on-path',
  'pinned-data',
  'code-syntax',
  'no-error-workflow',
] as const
export type RuleId = (typeof RULES)[number]

/** One workflow to check, with where it came from (a file path, or instance/id) for the report. */
export type Candidate = { source: string; json: unknown }

/**
 * What is known about the instance the workflows run on. n8n 1.123's public API cannot list
 * credentials (it has create, delete, transfer and the schema of a type), so `credentials` comes
 * from the caller (an `n8n export:credentials` file, or the API body) and `credentialTypes` from
 * GET /credentials/schema/{type} (404: the type is unknown there, e.g. a community node missing).
 */
export type InstanceFacts = {
  credentials?: { id?: string; name?: string; type?: string }[]
  credentialTypes?: Map<string, boolean>
}

export type WorkflowReport = {
  source: string
  id: string | null
  name: string | null
  active: boolean
  findings: Finding[]
}

export type Report = {
  workflows: WorkflowReport[]
  summary: { workflows: number; errors: number; warnings: number; infos: number }
}
