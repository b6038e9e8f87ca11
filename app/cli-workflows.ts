/**
 * `npm run cli -- workflows validate <file.json|folder…|--instance NAME>`: the workflow validator
 * on the command line, for people and for CI. Exit code 0 when clean, 1 when there are errors (or
 * warnings with --strict), 2 when it could not run (no such file, unknown instance, n8n unreachable).
 * Files and folders need no database; --instance reads the instance registered in Homeostat's.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { AppError } from './lib/errors.ts'
// The validator's narrow door: validating files loads the rules alone, not the app (see fromInstance).
import {
  candidatesOf,
  failed,
  formatReport,
  type InstanceFacts,
  latestVersions,
  type Report,
  validateWorkflows,
} from './modules/n8n/validator/index.ts'

export type ValidateOptions = {
  paths: string[]
  instance?: string
  json?: boolean
  strict?: boolean
  quiet?: boolean
  allVersions?: boolean
  credentials?: string
}

class UsageError extends Error {}

/** Every .json file under a folder (sorted, so the report's order is stable), skipping dot folders and node_modules. */
function jsonFiles(path: string): string[] {
  let stat: ReturnType<typeof statSync>
  try {
    stat = statSync(path)
  } catch {
    throw new UsageError(`${path}: no such file or folder`)
  }
  if (!stat.isDirectory()) return [path]
  const out: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue
      const full = join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith('.json')) out.push(full)
    }
  }
  walk(path)
  return out
}

function readJson(file: string): { json?: unknown; error?: string } {
  try {
    return { json: JSON.parse(readFileSync(file, 'utf8')) }
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

/** An `n8n export:credentials` file (a list, or {credentials: […]}): only ids, names and types are read. */
function credentialsFile(file: string): InstanceFacts['credentials'] {
  const { json, error } = readJson(file)
  if (error) throw new UsageError(`--credentials ${file}: ${error}`)
  const list = Array.isArray(json) ? json : (json as { credentials?: unknown } | null)?.credentials
  if (!Array.isArray(list)) throw new UsageError(`--credentials ${file}: expected a list of credentials`)
  return list.map((c) => {
    const r = (c ?? {}) as Record<string, unknown>
    const s = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined)
    return { id: s(r.id), name: s(r.name), type: s(r.type) }
  })
}

async function fromFiles(opts: ValidateOptions, credentials: InstanceFacts['credentials']): Promise<Report> {
  const candidates = []
  const unreadable: Report['workflows'] = []
  for (const path of opts.paths)
    for (const file of jsonFiles(path)) {
      const source = relative(process.cwd(), file) || file
      const { json, error } = readJson(file)
      if (error)
        unreadable.push({
          source,
          id: null,
          name: null,
          active: false,
          findings: [{ rule: 'shape', severity: 'error', message: `not JSON: ${error}` }],
        })
      else candidates.push(...candidatesOf(json, source))
    }
  const report = validateWorkflows(
    opts.allVersions ? candidates.map(({ source, json }) => ({ source, json })) : latestVersions(candidates),
    credentials ? { credentials } : undefined,
  )
  report.workflows.push(...unreadable)
  report.summary.workflows += unreadable.length
  report.summary.errors += unreadable.length
  return report
}

async function fromInstance(name: string, credentials: InstanceFacts['credentials']): Promise<Report> {
  // Loaded only here: validating files needs no database, config, outbound policy or n8n client.
  const [{ boot }, { createOutboundPolicy }, { createWorkflowValidator }] = await Promise.all([
    import('./boot.ts'),
    import('./lib/outbound.ts'),
    import('./modules/n8n/index.ts'),
  ])
  const { db, client, config, sealer } = await boot(process.env, { quiet: true })
  try {
    const validator = createWorkflowValidator({
      db,
      sealer,
      outbound: createOutboundPolicy(config),
      maxRps: config.WORKFLOW_PULL_MAX_RPS,
    })
    return await validator.validateInstance(name, { credentials })
  } finally {
    client.close()
  }
}

/** Runs the command; returns the exit code. */
export async function validateCommand(opts: ValidateOptions): Promise<number> {
  try {
    if (!opts.instance && !opts.paths.length)
      throw new UsageError('workflows validate needs files or folders, or --instance NAME')
    if (opts.instance && opts.paths.length) throw new UsageError('give files/folders or --instance, not both')
    const credentials = opts.credentials ? credentialsFile(opts.credentials) : undefined
    const report = opts.instance ? await fromInstance(opts.instance, credentials) : await fromFiles(opts, credentials)
    const bad = failed(report, opts.strict)
    if (opts.json) console.log(JSON.stringify({ ok: !bad, ...report }, null, 2))
    else process.stdout.write(formatReport(report, { quiet: opts.quiet }))
    return bad ? 1 : 0
  } catch (error) {
    if (error instanceof UsageError || error instanceof AppError) {
      console.error(error.message)
      return 2
    }
    throw error
  }
}
