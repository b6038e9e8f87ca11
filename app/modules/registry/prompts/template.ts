/**
 * Prompt templates: `{{name}}` placeholders (letters, digits and _, starting with a letter or _;
 * spaces inside the braces allowed). A version declares its variables; the template must use
 * exactly those, so an agent's compile can say which value is missing or unknown by name.
 */
import { createHash } from 'node:crypto'

export const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g

/** The variable names a template uses, in order of first use. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))]
}

/** What is wrong between a template and its declared variables, by field; empty when they agree. */
export function checkDeclared(template: string, declared: readonly string[]) {
  const used = placeholders(template)
  const issues: { field: string; message: string }[] = []
  const undeclared = used.filter((n) => !declared.includes(n))
  const unused = declared.filter((n) => !used.includes(n))
  if (undeclared.length)
    issues.push({ field: 'template', message: `uses undeclared variables: ${undeclared.join(', ')}` })
  if (unused.length) issues.push({ field: 'variables', message: `declared but not used: ${unused.join(', ')}` })
  return issues
}

/**
 * The template with every placeholder replaced. Missing values and names the version does not
 * declare are refused by name (`var.<name>`), so an agent never sends a half-filled prompt.
 */
export function compile(template: string, declared: readonly string[], values: Record<string, string>) {
  const issues: { field: string; message: string }[] = []
  for (const n of declared) if (values[n] === undefined) issues.push({ field: `var.${n}`, message: 'is missing' })
  for (const n of Object.keys(values))
    if (!declared.includes(n)) issues.push({ field: `var.${n}`, message: 'is not a variable of this version' })
  if (issues.length) return { ok: false as const, issues }
  // A function replacer: `$&` and friends in a value are text, not patterns.
  return { ok: true as const, text: template.replace(PLACEHOLDER, (_m, n: string) => values[n]!) }
}

/** JSON with sorted keys: the same parameters hash the same whatever order a client sent them in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

/** What makes two versions "the same content": template, declared variables (as a set) and parameters. */
export function contentHash(c: { template: string; variables: readonly string[]; parameters: unknown }) {
  return createHash('sha256')
    .update(canonical({ template: c.template, variables: [...c.variables].sort(), parameters: c.parameters }))
    .digest('hex')
}

export type DiffLine = { op: ' ' | '+' | '-'; text: string }

/**
 * A line diff (longest common subsequence) of two templates: prompts are short, so the quadratic
 * table is fine; past MAX_CELLS it falls back to "all removed, all added" rather than use the memory.
 */
const MAX_CELLS = 4_000_000
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = a.split('\n')
  const y = b.split('\n')
  if (x.length * y.length > MAX_CELLS)
    return [...x.map((text) => ({ op: '-' as const, text })), ...y.map((text) => ({ op: '+' as const, text }))]
  const w = y.length + 1
  const lcs = new Uint32Array((x.length + 1) * w)
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      lcs[i * w + j] =
        x[i] === y[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!)
  const out: DiffLine[] = []
  let i = 0
  let j = 0
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i]! })
      i++
      j++
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) out.push({ op: '-', text: x[i++]! })
    else out.push({ op: '+', text: y[j++]! })
  }
  while (i < x.length) out.push({ op: '-', text: x[i++]! })
  while (j < y.length) out.push({ op: '+', text: y[j++]! })
  return out
}
