/**
 * Summary and description templates: `{{value}}`, `{{labels.name}}` and `{{rule.name}}` (also
 * rule.metric, rule.severity, rule.kind, rule.threshold). Plain substitution; nothing runs.
 */
export type TemplateContext = {
  value: number | null
  labels: Record<string, string>
  rule: { name: string; metric: string; severity: string; kind: string; value: number | null }
}

// `[^{}]*` then a trim of the key, not `\s*([^{}]*?)\s*`: the lazy group between two `\s*` tried
// every split of a run of spaces, cubic on `{{` and a few thousand spaces with no `}}`.
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g
const KEY = /^(value|labels\.[a-zA-Z_][a-zA-Z0-9_]*|rule\.(name|metric|severity|kind|threshold))$/

/** Why a template is refused (unknown placeholder, unbalanced braces), or undefined. */
export function templateProblem(template: string): string | undefined {
  for (const m of template.matchAll(PLACEHOLDER)) {
    const key = m[1]!.trim()
    if (!KEY.test(key))
      return `unknown placeholder {{${key}}}; use {{value}}, {{labels.<name>}} or {{rule.name|metric|severity|kind|threshold}}`
  }
  const rest = template.replace(PLACEHOLDER, '')
  if (rest.includes('{{') || rest.includes('}}')) return 'has an unbalanced {{ or }}'
  return undefined
}

export const formatValue = (v: number | null) =>
  v === null ? '' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)))

/** Fills a template that passed `templateProblem`. Unknown keys (never saved) render empty. */
export function renderTemplate(template: string, ctx: TemplateContext): string {
  return template.replace(PLACEHOLDER, (_m, raw: string) => {
    const key = raw.trim()
    if (key === 'value') return formatValue(ctx.value)
    if (key.startsWith('labels.')) return ctx.labels[key.slice(7)] ?? ''
    switch (key) {
      case 'rule.name':
        return ctx.rule.name
      case 'rule.metric':
        return ctx.rule.metric
      case 'rule.severity':
        return ctx.rule.severity
      case 'rule.kind':
        return ctx.rule.kind
      case 'rule.threshold':
        return formatValue(ctx.rule.value)
      default:
        return ''
    }
  })
}
