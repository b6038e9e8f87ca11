import type { ErrorDetail } from '../../../lib/errors.ts'

/** `{{label}}` placeholders in a rule's target and params, filled from the trigger's labels. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

export const hasPlaceholder = (value: unknown) =>
  /\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/.test(typeof value === 'string' ? value : JSON.stringify(value ?? null))

export const fillText = (s: string, labels: Record<string, string>, encode: (v: string) => string = (v) => v) =>
  s.replace(PLACEHOLDER, (_m, name: string) => encode(labels[name] ?? ''))

/** A copy of `value` with every string's placeholders filled. */
export function fillDeep<T>(value: T, labels: Record<string, string>): T {
  if (typeof value === 'string') return fillText(value, labels) as T
  if (Array.isArray(value)) return value.map((x) => fillDeep(x, labels)) as T
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, fillDeep(x, labels)])) as T
  return value
}

/*
 * Label values come from whoever can send an alert (an ingest key in a Prometheus config), so a
 * label must not steer where a healing request goes or what runs. Three rules:
 * - a URL's scheme, host and port are literal in the rule (refused at validation otherwise);
 * - every value filled into a URL is percent-encoded (`/`, `?`, `#`, `@`, `&` cannot add structure),
 *   and a path segment that comes out as `.` or `..` is refused (URL parsers would fold it);
 * - the target of actions whose target picks what runs (service_restart: the allow-listed command;
 *   n8n: the instance, hence its host) is literal.
 */

/** Params fields whose filled values land in a URL: a whole URL, or a part of one (path segment or id). */
const URL_PARAMS: Record<string, Record<string, 'url' | 'part'>> = {
  webhook: { url: 'url' },
  n8n: { executionId: 'part', workflowId: 'part', webhookPath: 'part' },
  workflow_rollback: { workflowId: 'part' },
  n8n_retry: { executionId: 'part' },
}
const LITERAL_TARGET = new Set(['service_restart', 'n8n', 'workflow_rollback', 'n8n_retry'])

/** The scheme and authority of a URL template: everything before the path, query or fragment. */
function origin(template: string) {
  const start = template.indexOf('//')
  const from = start >= 0 && !/[/?#]/.test(template.slice(0, start)) ? start + 2 : 0
  const rest = template.slice(from).search(/[/?#]/)
  return rest < 0 ? template : template.slice(0, from + rest)
}

const DOT_SEGMENT = /^(\.|%2e){1,2}$/i
class TemplateProblem extends Error {}

function fillUrlPart(template: string, labels: Record<string, string>) {
  const filled = fillText(template, labels, encodeURIComponent)
  const path = filled.split(/[?#]/, 1)[0]!
  if (path.split('/').some((s) => DOT_SEGMENT.test(s)))
    throw new TemplateProblem('a label value made a . or .. segment')
  return filled
}

/** A URL template filled: its origin must hold no placeholder; every value is percent-encoded. */
export function fillUrl(template: string, labels: Record<string, string>) {
  const head = origin(template)
  if (hasPlaceholder(head)) throw new TemplateProblem('the scheme, host and port cannot come from labels')
  return head + fillUrlPart(template.slice(head.length), labels)
}

/** What a rule's templates may not do, for rule validation (400, naming the field). */
export function templateIssues(r: {
  actionType: string
  target: string
  params: Record<string, unknown>
  verification: { type: string; url?: string }
}): ErrorDetail[] {
  const issues: ErrorDetail[] = []
  if (LITERAL_TARGET.has(r.actionType) && hasPlaceholder(r.target))
    issues.push({ field: 'target', message: `must be literal for ${r.actionType} (labels cannot choose it)` })
  const urlField = (field: string, value: unknown) => {
    if (typeof value === 'string' && hasPlaceholder(origin(value)))
      issues.push({ field, message: 'the scheme, host and port must be literal (labels may fill the path and query)' })
  }
  for (const [field, kind] of Object.entries(URL_PARAMS[r.actionType] ?? {}))
    if (kind === 'url') urlField(`params.${field}`, r.params[field])
  if (r.verification.type === 'http') urlField('verification.url', r.verification.url)
  return issues
}

/**
 * A rule's params and verification filled for one trigger, each value encoded for where it lands;
 * or the issues that stop it (the action then fails with them).
 */
export function renderTemplates<P extends Record<string, unknown>, V extends { type: string; url?: string }>(
  actionType: string,
  params: P,
  verification: V,
  labels: Record<string, string>,
): { params: P; verification: V } | { issues: ErrorDetail[] } {
  const issues: ErrorDetail[] = []
  const filled: Record<string, unknown> = {}
  const fields = URL_PARAMS[actionType] ?? {}
  const attempt = (field: string, fill: () => unknown) => {
    try {
      return fill()
    } catch (error) {
      if (!(error instanceof TemplateProblem)) throw error
      issues.push({ field, message: error.message })
    }
  }
  for (const [k, value] of Object.entries(params)) {
    const kind = fields[k]
    filled[k] =
      kind && typeof value === 'string'
        ? attempt(`params.${k}`, () => (kind === 'url' ? fillUrl(value, labels) : fillUrlPart(value, labels)))
        : fillDeep(value, labels)
  }
  const v =
    verification.type === 'http' && typeof verification.url === 'string'
      ? { ...verification, url: attempt('verification.url', () => fillUrl(verification.url!, labels)) }
      : fillDeep(verification, labels)
  return issues.length ? { issues } : { params: filled as P, verification: v as V }
}
