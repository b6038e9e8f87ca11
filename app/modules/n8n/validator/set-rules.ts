/**
 * Rules that need more than one workflow or the instance: the same production webhook (method and
 * path) registered by two active workflows (n8n refuses to activate the second, or the one that
 * wins depends on activation order), and credentials the instance does not have.
 */
import { isWebhook } from './node-kinds.ts'
import type { Checked } from './shape.ts'
import type { Finding, InstanceFacts } from './types.ts'

export type WebhookClaim = { key: string; workflow: string; node: string }

/** `/Users/:id/` → `Users/:`: n8n matches a dynamic segment whatever its name, and ignores outer slashes. */
const normalisePath = (path: string) =>
  path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((s) => (s.startsWith(':') ? ':' : s))
    .join('/')

/** The webhooks an active workflow registers, as `METHOD path` keys. Paths that are expressions are skipped. */
export function webhookClaims(c: Checked, label: string): WebhookClaim[] {
  if (!c.wf.active) return []
  const claims: WebhookClaim[] = []
  for (const node of c.wf.nodes) {
    if (node.disabled || !isWebhook(node.type)) continue
    const p = node.parameters
    const raw = typeof p.path === 'string' && p.path ? p.path : typeof node.webhookId === 'string' ? node.webhookId : ''
    if (!raw || raw.startsWith('=')) continue
    const methods = node.type.toLowerCase().endsWith('formtrigger')
      ? ['GET', 'POST']
      : Array.isArray(p.httpMethod)
        ? p.httpMethod.map(String)
        : [typeof p.httpMethod === 'string' ? p.httpMethod : 'GET']
    const path = normalisePath(raw)
    for (const m of methods) claims.push({ key: `${m.toUpperCase()} ${path}`, workflow: label, node: node.name })
  }
  return claims
}

/** For each workflow (by its index in the set), the duplicate-webhook findings. */
export function duplicateWebhookRules(claimsByWorkflow: WebhookClaim[][]): Map<number, Finding[]> {
  const owners = new Map<string, { index: number; claim: WebhookClaim }[]>()
  claimsByWorkflow.forEach((claims, index) => {
    for (const claim of claims) {
      const list = owners.get(claim.key) ?? []
      list.push({ index, claim })
      owners.set(claim.key, list)
    }
  })
  const out = new Map<number, Finding[]>()
  for (const [key, list] of owners) {
    if (list.length < 2) continue
    for (const { index, claim } of list) {
      const others = list
        .filter((o) => o.claim !== claim)
        .map((o) => (o.index === index ? `node "${o.claim.node}"` : `"${o.claim.workflow}" (node "${o.claim.node}")`))
      const findings = out.get(index) ?? []
      findings.push({
        rule: 'duplicate-webhook',
        severity: 'error',
        node: claim.node,
        message: `webhook ${key.replace(' ', ' /')} is also registered by ${others.join(', ')}`,
      })
      out.set(index, findings)
    }
  }
  return out
}

/** Credentials a node uses that the instance does not have (by id, or by name and type when the id is not set). */
export function credentialRules(c: Checked, facts: InstanceFacts | undefined): Finding[] {
  if (!facts?.credentials && !facts?.credentialTypes) return []
  const ids = new Set(facts.credentials?.map((k) => k.id).filter(Boolean))
  const names = new Set(facts.credentials?.map((k) => `${k.type ?? ''}\u0000${k.name ?? ''}`))
  const anyType = new Set(facts.credentials?.map((k) => k.name))
  const findings: Finding[] = []
  for (const node of c.wf.nodes) {
    for (const [type, ref] of Object.entries(node.credentials ?? {})) {
      if (facts.credentialTypes?.get(type) === false) {
        findings.push({
          rule: 'credential-missing',
          severity: 'error',
          node: node.name,
          message: `"${node.name}" uses a credential of type ${type}, which the instance does not know (node package not installed?)`,
        })
        continue
      }
      if (!facts.credentials) continue
      const found = ref.id ? ids.has(ref.id) : names.has(`${type}\u0000${ref.name}`) || anyType.has(ref.name)
      if (!found)
        findings.push({
          rule: 'credential-missing',
          severity: 'error',
          node: node.name,
          message: `"${node.name}" uses credential "${ref.name}"${ref.id ? ` (id ${ref.id})` : ''} of type ${type}, which the instance does not have`,
        })
    }
  }
  return findings
}
