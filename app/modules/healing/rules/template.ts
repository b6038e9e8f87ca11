/** `{{label}}` placeholders in a rule's target and params, filled from the trigger's labels. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

export const hasPlaceholder = (value: unknown) =>
  /\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/.test(typeof value === 'string' ? value : JSON.stringify(value ?? null))

export const fillText = (s: string, labels: Record<string, string>) =>
  s.replace(PLACEHOLDER, (_m, name: string) => labels[name] ?? '')

/** A copy of `value` with every string's placeholders filled. */
export function fillDeep<T>(value: T, labels: Record<string, string>): T {
  if (typeof value === 'string') return fillText(value, labels) as T
  if (Array.isArray(value)) return value.map((x) => fillDeep(x, labels)) as T
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, fillDeep(x, labels)])) as T
  return value
}
