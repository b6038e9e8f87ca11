/**
 * Label matchers as Prometheus and Alertmanager read them (`=`, `!=`, `=~`, `!~`): compiling a list
 * into one predicate, checking a regex, and the one-matcher-per-line text the dashboard forms use.
 * Alert rules, silences and notification policies all match labels this way.
 */
import type { LabelMatcher } from '../../db/schema/alerts.ts'
import type { ErrorDetail } from './errors.ts'
import { compileUserRegex } from './safe-regex.ts'

export { regexProblem } from './safe-regex.ts'

/** A Prometheus label name. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * A regex as Prometheus reads one: anchored at both ends, RE2 semantics, on the linear-time engine
 * (a user's `(a+)+` must not freeze the server as JS RegExp would). Throws UserRegexError on bad syntax.
 */
export const anchored = (source: string) => compileUserRegex(source)

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

const OPS = ['=~', '!~', '!=', '='] as const // longest first: `=~` is not `=` then `~…`
const unquote = (s: string) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s)

/**
 * The text split at newlines and at commas outside double quotes (`env="prod", agent="x"` is two
 * matchers, `msg="a, b"` one), in one pass: no regex, so a long line costs its length and no more.
 */
export function matcherItems(raw: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i <= raw.length; i++) {
    const c = raw[i]
    if (c === '"') quoted = !quoted
    else if (i === raw.length || c === '\n' || (c === ',' && !quoted)) {
      const item = raw.slice(start, i).trim()
      if (item) out.push(item)
      start = i + 1
      if (c === '\n') quoted = false // a quote left open ends with its line
    }
  }
  return out
}

/** One `label op value` (the item trimmed), read by hand; undefined when it is not one. */
function parseMatcher(item: string): LabelMatcher | undefined {
  let i = 0
  while (i < item.length && !'=!~"'.includes(item[i]!) && !/\s/.test(item[i]!)) i++
  const label = item.slice(0, i)
  while (i < item.length && /\s/.test(item[i]!)) i++
  const op = OPS.find((o) => item.startsWith(o, i))
  if (!op || !LABEL_NAME.test(label)) return undefined
  const rest = item.slice(i + op.length).trim()
  // An opening quote must close: `msg="a` is a typo, not the value `"a`.
  if (rest.startsWith('"') && (rest.length < 2 || !rest.endsWith('"'))) return undefined
  return { label, op, value: unquote(rest) }
}

/** Matcher lines (`env="prod"`, `agent=~"billing|x"`; newlines or commas outside quotes) into matchers. */
export function parseMatchers(raw: string | undefined, field: string, errors: ErrorDetail[]): LabelMatcher[] {
  const out: LabelMatcher[] = []
  for (const item of matcherItems(raw ?? '')) {
    const m = parseMatcher(item)
    if (!m) {
      errors.push({
        field,
        message: `"${item.slice(0, 60)}" is not label="value" (or !=, =~, !~) with a label name like env or component_id`,
      })
      continue
    }
    out.push(m)
  }
  return out
}

/** The lines `parseMatchers` reads back into the same matchers. */
export const matcherLines = (list: LabelMatcher[]) => list.map((m) => `${m.label}${m.op}"${m.value}"`).join('\n')
