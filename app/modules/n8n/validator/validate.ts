/**
 * The validator: runs every rule over a set of workflows and gives one report. Pure: it reads
 * nothing and calls nothing; the instance's facts (its credentials) come in as an argument.
 */
import { codeRules } from './code-rules.ts'
import { expressionRules } from './expression-rules.ts'
import { connectionRules, disabledRules, edgesOf, orphanRules, triggerRules } from './graph-rules.ts'
import { errorWorkflowRules, pinnedDataRules } from './hygiene-rules.ts'
import { credentialRules, duplicateWebhookRules, type WebhookClaim, webhookClaims } from './set-rules.ts'
import { checkShape } from './shape.ts'
import type { Candidate, Finding, InstanceFacts, Report, Severity, WorkflowReport } from './types.ts'

const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 }

const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : null)

export function validateWorkflows(candidates: Candidate[], facts?: InstanceFacts): Report {
  const reports: WorkflowReport[] = []
  const claims: WebhookClaim[][] = []
  const parsedCode = new Map<string, string | null>()
  for (const { source, json } of candidates) {
    const raw = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>
    const { checked, findings } = checkShape(json)
    const report: WorkflowReport = {
      source,
      id: text(raw.id),
      name: text(raw.name),
      active: raw.active === true,
      findings,
    }
    if (checked) {
      const edges = edgesOf(checked)
      findings.push(
        ...connectionRules(checked, edges),
        ...orphanRules(checked, edges),
        ...triggerRules(checked),
        ...expressionRules(checked),
        ...credentialRules(checked, facts),
        ...disabledRules(checked, edges),
        ...pinnedDataRules(checked),
        ...codeRules(checked, parsedCode),
        ...errorWorkflowRules(checked),
      )
      claims.push(webhookClaims(checked, report.name ?? source))
    } else claims.push([])
    reports.push(report)
  }
  for (const [index, findings] of duplicateWebhookRules(claims)) reports[index]!.findings.push(...findings)
  const summary = { workflows: reports.length, errors: 0, warnings: 0, infos: 0 }
  for (const r of reports) {
    r.findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity])
    for (const f of r.findings) count(summary, f)
  }
  return { workflows: reports, summary }
}

function count(summary: Report['summary'], f: Finding) {
  if (f.severity === 'error') summary.errors++
  else if (f.severity === 'warning') summary.warnings++
  else summary.infos++
}

/** Whether the report should fail a CI gate: any error, or with `strict` any warning too. */
export const failed = (report: Report, strict = false) =>
  report.summary.errors > 0 || (strict && report.summary.warnings > 0)
