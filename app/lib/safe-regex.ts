/**
 * Regular expressions that users type (matchers `=~`/`!~`, key patterns, previews) run here, on
 * re2js: RE2's automata, whose time grows with the pattern times the text and never explodes the
 * way a backtracking engine (JS RegExp) does on `(a+)+` or `(.*.*)*#`. The semantics are RE2's, as
 * Prometheus reads a label matcher: the whole value must match (anchored at both ends), `.` matches
 * a newline too, `(?i)` and the other RE2 flags work, lookarounds and backreferences do not exist.
 *
 * Matching goes through re2js's capture path (one-pass, bit-state or NFA), never its lazy DFA: the
 * DFA keeps a state cache of up to several megabytes in every compiled pattern, and patterns are
 * kept (here and by callers) long after the one evaluation that filled it.
 */
import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js'
import { boundedMap } from './bounded-map.ts'

/** A compiled user pattern. `test` never throws and runs in time linear in the value's length. */
export type UserRegex = { readonly source: string; readonly anchored: boolean; test(value: string): boolean }

export type UserRegexOptions = {
  /** true (the default): the whole value must match, as a Prometheus matcher. false: a match anywhere, as RegExp.test. */
  anchored?: boolean
}

/** Why a pattern was refused; `message` is a validation message for the field ("must be a valid RE2 …"). */
export class UserRegexError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`must be a valid RE2 regular expression: ${reason}`)
    this.name = 'UserRegexError'
  }
}

/** Longest pattern accepted: matcher values are shorter; this only keeps the estimate below cheap. */
export const MAX_PATTERN_LENGTH = 4096
/**
 * Most instructions a compiled pattern may have: a test costs at most about this size times the
 * value's length. Patterns as long as a matcher value (1024 characters) fit unless they repeat
 * with `{n,m}`.
 */
export const MAX_PROGRAM_SIZE = 2000

// Compiling expands counted repetitions (`x{1000}` is a thousand copies of x), and the expansion is
// paid before the size is known: a pattern whose estimate is twice the limit is refused unbuilt.
const MAX_ESTIMATE = 2 * MAX_PROGRAM_SIZE

const cache = boundedMap<string, UserRegex | UserRegexError>(256)

/** Compiles a user pattern (see the file's comment for the semantics); throws UserRegexError when it is refused. */
export function compileUserRegex(pattern: string, options: UserRegexOptions = {}): UserRegex {
  const anchored = options.anchored ?? true
  const key = (anchored ? 'a' : 'u') + pattern
  let entry = cache.get(key)
  if (!entry) {
    try {
      entry = build(pattern, anchored)
    } catch (error) {
      if (!(error instanceof UserRegexError)) throw error
      entry = error
    }
    cache.set(key, entry)
  }
  if (entry instanceof UserRegexError) throw entry
  return entry
}

/** Why a pattern would be refused ("must be a valid RE2 regular expression: …"), or undefined when it compiles. */
export function regexProblem(pattern: string, options: UserRegexOptions = {}): string | undefined {
  try {
    compileUserRegex(pattern, options)
    return undefined
  } catch (error) {
    if (error instanceof UserRegexError) return error.message
    throw error
  }
}

function build(source: string, anchored: boolean): UserRegex {
  if (source.length > MAX_PATTERN_LENGTH)
    throw new UserRegexError(source, `longer than ${MAX_PATTERN_LENGTH} characters`)
  const fast = literalTest(source, anchored)
  if (fast) return { source, anchored, test: fast }
  if (estimatedSize(source) > MAX_ESTIMATE) throw tooLarge(source)
  let re: RE2JS
  try {
    // DOTALL prefixes the flag `(?s)`, not a group: a pattern like `a)|(b` cannot close it and
    // escape the anchoring, it is refused as it stands.
    re = RE2JS.compile(source, RE2JS.DOTALL)
  } catch (error) {
    if (error instanceof RE2JSException) throw new UserRegexError(source, describe(error, source))
    throw error
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) throw tooLarge(source)
  return anchored
    ? { source, anchored, test: (value) => re.matcher(value).matches() }
    : { source, anchored, test: (value) => re.matcher(value).find() }
}

const tooLarge = (source: string) =>
  new UserRegexError(
    source,
    `too large (it compiles to more than ${MAX_PROGRAM_SIZE} instructions; use fewer or smaller {n,m} repetitions)`,
  )

function describe(error: RE2JSException, source: string): string {
  let reason = error.message.replace(/^error parsing regexp: /, '')
  if (error instanceof RE2JSSyntaxException) {
    let input = error.getPattern() ?? ''
    // The flag re2js put in front of the pattern is not the user's.
    if (input.startsWith('(?s)') && !source.startsWith(input)) input = input.slice(4)
    reason = input ? `${error.getDescription()}: \`${input}\`` : error.getDescription()
  }
  const unsupported = ['(?=', '(?!', '(?<=', '(?<!'].some((s) => source.includes(s)) || /\\[1-9]/.test(source)
  return unsupported ? `${reason} (RE2 has no lookahead, lookbehind or backreferences)` : reason
}

// ---- Literal patterns: the common `prod`, `api|web|db`, `10\.0\.0\.1:9100`, `web-.*`, `.*err.*` ----
// They need no automaton: string comparisons give the same answer as RE2 at a fraction of the cost.

const META = new Set('\\.+*?()|[]{}^$')
const isPunct = (c: string) => /^[!-/:-@[-`{-~]$/.test(c)

/** The strings a `lit|lit|…` pattern stands for (`\` before punctuation is that character), or undefined. */
function literals(source: string): string[] | undefined {
  const out: string[] = []
  let cur = ''
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '|') {
      out.push(cur)
      cur = ''
    } else if (c === '\\') {
      const next = source[i + 1]
      if (next === undefined || !isPunct(next)) return undefined
      cur += next
      i++
    } else if (META.has(c)) return undefined
    else cur += c
  }
  out.push(cur)
  return out
}

function literalTest(source: string, anchored: boolean): ((value: string) => boolean) | undefined {
  if (!anchored) {
    const all = literals(source)
    return all && ((value) => all.some((s) => value.includes(s)))
  }
  if (source === '.+') return (value) => value.length > 0
  // `.*` around one literal: a prefix, a suffix or a substring (a `\.*` at the end is not `.*`).
  const head = source.startsWith('.*')
  const tail = source.length >= (head ? 4 : 2) && source.endsWith('.*') && !source.endsWith('\\.*')
  if (head || tail) {
    const middle = literals(source.slice(head ? 2 : 0, tail ? -2 : undefined))
    if (middle?.length !== 1) return undefined
    const lit = middle[0]!
    if (head && tail) return (value) => value.includes(lit)
    return head ? (value) => value.endsWith(lit) : (value) => value.startsWith(lit)
  }
  const all = literals(source)
  if (!all) return undefined
  if (all.length === 1) return (value) => value === all[0]
  const set = new Set(all)
  return (value) => set.has(value)
}

/**
 * About how many instructions a pattern compiles to (an over-estimate as a rule), read in one pass
 * without compiling: literals, classes and escapes count one each, a group two more than its
 * content, `x{n,m}` m copies of x. Syntax it does not know counts as literals; the compiler decides.
 */
export function estimatedSize(source: string): number {
  const outer: number[] = []
  let size = 0 // of the group being read
  let last = 0 // of the atom a quantifier would repeat
  const atom = (n: number) => {
    size += n
    last = n
  }
  for (let i = 0; i < source.length; ) {
    const c = source[i]!
    if (c === '\\') {
      const next = source[i + 1]
      if (next === 'Q') {
        const end = source.indexOf('\\E', i + 2)
        const stop = end < 0 ? source.length : end
        size += stop - (i + 2)
        last = 1
        i = end < 0 ? stop : stop + 2
        continue
      }
      i += 2
      if ((next === 'p' || next === 'P' || next === 'x') && source[i] === '{') i = closing(source, i, '}')
      else if (next === 'p' || next === 'P') i += 1
      else if (next === 'x') i += 2
      atom(1)
    } else if (c === '[') {
      i = classEnd(source, i)
      atom(1)
    } else if (c === '(') {
      if (source[i + 1] === '?') {
        let j = i + 2
        if (source[j] === 'P' || source[j] === '<') {
          j = closing(source, j, '>')
        } else {
          while (j < source.length && /[a-zA-Z-]/.test(source[j]!)) j++
          if (source[j] === ')') {
            i = j + 1 // flags only, no group
            continue
          }
          j += 1
        }
        i = j
      } else i += 1
      outer.push(size)
      size = 0
    } else if (c === ')') {
      i += 1
      if (!outer.length) continue
      const inner = size + 2
      size = outer.pop()!
      atom(inner)
    } else if (c === '*' || c === '+' || c === '?' || c === '|') {
      i += 1
      size += 1
    } else if (c === '{') {
      const m = /^\{(\d{1,6})(,(\d{0,6}))?\}/.exec(source.slice(i, i + 16))
      if (!m) {
        i += 1
        atom(1)
        continue
      }
      i += m[0].length
      const min = Number(m[1])
      const copies = m[2] === undefined ? min : m[3] ? Number(m[3]) : min + 1
      size += last * (Math.max(copies, 1) - 1) + copies
      last *= Math.max(copies, 1)
    } else {
      i += 1
      atom(1)
    }
  }
  while (outer.length) size += outer.pop()! + 2
  return size
}

/** The index after the `close` that ends what starts at `from`, or the end of the pattern. */
function closing(source: string, from: number, close: string) {
  const at = source.indexOf(close, from)
  return at < 0 ? source.length : at + 1
}

/** The index after the `]` that closes the class opening at `from` (`[]a]`, `[^]a]`, `[[:alpha:]]`, escapes). */
function classEnd(source: string, from: number) {
  let i = from + 1
  if (source[i] === '^') i++
  if (source[i] === ']') i++
  while (i < source.length) {
    const c = source[i]
    if (c === ']') return i + 1
    if (c === '\\') {
      const next = source[i + 1]
      i += 2
      if ((next === 'p' || next === 'P' || next === 'x') && source[i] === '{') i = closing(source, i, '}')
    } else if (c === '[' && source[i + 1] === ':') {
      const end = source.indexOf(':]', i + 2)
      i = end < 0 ? i + 1 : end + 2
    } else i++
  }
  return i
}
