/**
 * Label matchers as Prometheus and Alertmanager read them (`=`, `!=`, `=~`, `!~`): compiling a list
 * into one predicate, checking a regex, and the one-matcher-per-line text the dashboard forms use.
 * Alert rules, silences and notification policies all match labels this way.
 */
import { matcherOps, type LabelMatcher } from '../../db/schema/alerts.ts'
import type { ErrorDetail } from './errors.ts'

/** A Prometheus label name. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** A regex as Prometheus reads one: anchored at both ends. Throws on bad syntax. */
export const anchored = (source: string) => new RegExp(`^(?:${source})$`, 'u')

/** Why a regex is refused, or undefined when it compiles. */
export function regexProblem(source: string): string | undefined {
  try {
    anchored(source)
    return undefined
  } catch (error) {
    return `is not a valid regular expression: ${(error as Error).message}`
  }
}

/**
 * One predicate for a list of matchers: `=`, `!=`, `=~`, `!~`, a missing label reading as ''.
 * Invalid regexes are refused when matchers are saved; here they throw.
 */
export function compileMatchers(list: LabelMatcher[]): (labels: Record<string, string>) => boolean {
  const tests = list.map((m) => {
    const re = m.op === '=~' || m.op === '!~' ? anchored(m.value) : null
    return (labels: Record<string, string>) => {
      const v = labels[m.label] ?? ''
      switch (m.op) {
        case '=':
          return v === m.value
        case '!=':
          return v !== m.value
        case '=~':
          return re!.test(v)
        case '!~':
          return !re!.test(v)
      }
    }
  })
  return (labels) => tests.every((t) => t(labels))
}

/** The labels a matcher list pins to one value (its `=` matchers), e.g. for an absent series. */
export const pinnedLabels = (list: LabelMatcher[]) =>
  Object.fromEntries(list.filter((m) => m.op === '=' && m.value !== '').map((m) => [m.label, m.value]))

const MATCHER = /^\s*([^=!~\s"]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$/
const unquote = (s: string) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s)

/** Matcher lines (`env="prod"`, `agent=~"billing|x"`; newlines or commas outside quotes) into matchers. */
export function parseMatchers(raw: string | undefined, field: string, errors: ErrorDetail[]): LabelMatcher[] {
  const out: LabelMatcher[] = []
  for (const part of (raw ?? '').split('\n')) {
    const line = part.trim()
    if (!line) continue
    const m = MATCHER.exec(line)
    if (!m || !(matcherOps as readonly string[]).includes(m[2]!) || !LABEL_NAME.test(m[1]!)) {
      errors.push({
        field,
        message: `"${line.slice(0, 60)}" is not label="value" (or !=, =~, !~) with a label name like env or component_id`,
      })
      continue
    }
    out.push({ label: m[1]!, op: m[2] as LabelMatcher['op'], value: unquote(m[3]!) })
  }
  return out
}

/** The lines `parseMatchers` reads back into the same matchers. */
export const matcherLines = (list: LabelMatcher[]) => list.map((m) => `${m.label}${m.op}"${m.value}"`).join('\n')
