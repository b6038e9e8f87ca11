import type { LabelMatcher } from '../../../db/schema/alerts.ts'

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
 * Invalid regexes are refused when rules are saved; here they throw.
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
