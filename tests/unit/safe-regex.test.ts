import { RE2JS } from 're2js'
import { describe, expect, it } from 'vitest'
import {
  compileUserRegex,
  estimatedSize,
  MAX_PATTERN_LENGTH,
  regexProblem,
  UserRegexError,
} from '../../app/lib/safe-regex.ts'

const matches = (pattern: string, value: string) => compileUserRegex(pattern).test(value)
const finds = (pattern: string, value: string) => compileUserRegex(pattern, { anchored: false }).test(value)
const refusal = (pattern: string) => {
  try {
    compileUserRegex(pattern)
  } catch (error) {
    expect(error).toBeInstanceOf(UserRegexError)
    return (error as UserRegexError).message
  }
  throw new Error(`${pattern} was accepted`)
}

describe('user regexes: RE2 semantics, as Prometheus reads a matcher', () => {
  it('anchors at both ends by default, and finds anywhere when asked', () => {
    expect(matches('prod', 'prod')).toBe(true)
    expect(matches('prod', 'production')).toBe(false)
    expect(matches('prod', 'preprod')).toBe(false)
    expect(matches('prod.*', 'production')).toBe(true)
    expect(matches('', '')).toBe(true)
    expect(matches('', 'x')).toBe(false)
    // the whole value, not the leftmost alternative that matches a prefix of it
    expect(matches('a|ab', 'ab')).toBe(true)
    expect(finds('prod', 'preproduction')).toBe(true)
    expect(finds('^model:', 'model:gpt')).toBe(true)
    expect(finds('^model:', 'the model:gpt')).toBe(false)
    expect(finds('', 'anything')).toBe(true)
  })

  it('reads (?i) and the other RE2 flags', () => {
    expect(matches('(?i)prod', 'PROD')).toBe(true)
    expect(matches('(?i)prod', 'Prod')).toBe(true)
    expect(matches('prod', 'PROD')).toBe(false)
    expect(matches('(?i:a)b', 'Ab')).toBe(true)
    expect(matches('(?i:a)b', 'AB')).toBe(false)
    expect(finds('(?i)error', 'Fatal ERROR here')).toBe(true)
  })

  it('matches character classes, Unicode classes and counted repetition', () => {
    expect(matches('[a-z]+-[0-9]{2,4}', 'web-042')).toBe(true)
    expect(matches('[a-z]+-[0-9]{2,4}', 'web-4')).toBe(false)
    expect(matches('\\d+', '12345')).toBe(true)
    expect(matches('\\w+', 'node_cpu')).toBe(true)
    expect(matches('[^/]+', 'a/b')).toBe(false)
    expect(matches('[[:alpha:]]+', 'abc')).toBe(true)
    expect(matches('[[:alpha:]]+', 'ab1')).toBe(false)
    expect(matches('\\pL+', 'héllo')).toBe(true)
    expect(matches('\\p{Greek}+', 'αβγ')).toBe(true)
    expect(matches('.', '😀')).toBe(true)
    expect(matches('10\\.0\\.0\\.1:9100', '10.0.0.1:9100')).toBe(true)
    expect(matches('10\\.0\\.0\\.1:9100', '10x0.0.1:9100')).toBe(false)
  })

  it('matches alternation as a whole value', () => {
    expect(matches('api|web', 'api')).toBe(true)
    expect(matches('api|web', 'web')).toBe(true)
    expect(matches('api|web', 'apiweb')).toBe(false)
    expect(matches('api|web', 'xapi')).toBe(false)
    expect(matches('(api|web)-[0-9]+', 'web-3')).toBe(true)
    expect(matches('api|', '')).toBe(true)
  })

  it('lets . match a newline, as Prometheus does', () => {
    expect(matches('a.b', 'a\nb')).toBe(true)
    expect(matches('.*', 'two\nlines')).toBe(true)
    expect(matches('(?-s:a.b)', 'a\nb')).toBe(false)
  })

  it('refuses what cannot escape the anchoring: a pattern that closes the group around it', () => {
    expect(refusal('a)|(b')).toMatch(/must be a valid RE2 regular expression: unexpected \)/)
    expect(refusal('.*)|(.*')).toMatch(/unexpected \)/)
  })

  it('refuses lookarounds and backreferences with a message that says RE2 has none', () => {
    for (const pattern of ['a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b', '(a)\\1']) {
      const message = refusal(pattern)
      expect(message).toMatch(/^must be a valid RE2 regular expression: /)
      expect(message).toMatch(/RE2 has no lookahead, lookbehind or backreferences/)
    }
  })

  it("refuses bad syntax with RE2's own message, and regexProblem returns it", () => {
    expect(refusal('(')).toBe('must be a valid RE2 regular expression: missing closing ): `(`')
    expect(refusal('[a-')).toMatch(/missing closing \]/)
    expect(refusal('*a')).toMatch(/missing argument to repetition operator/)
    expect(regexProblem('(a')).toMatch(/^must be a valid RE2 regular expression: missing closing \)/)
    expect(regexProblem('a.*')).toBeUndefined()
    expect(regexProblem('prod|staging')).toBeUndefined()
    const error = (() => {
      try {
        compileUserRegex('(')
      } catch (e) {
        return e as UserRegexError
      }
    })()
    expect(error?.pattern).toBe('(')
    expect(error?.reason).toBe('missing closing ): `(`')
  })

  it('refuses patterns too large to match cheaply, before compiling them when the text shows it', () => {
    expect(refusal('a{1001}')).toMatch(/invalid repeat count/)
    // three thousand-fold copies side by side: the estimate refuses it unbuilt
    const wide = '(?:.{1000})'.repeat(3)
    expect(estimatedSize(wide)).toBeGreaterThan(4000)
    expect(refusal(wide)).toMatch(/too large/)
    // within the estimate, over the compiled size
    expect(refusal('.{0,1000}')).toMatch(/too large \(it compiles to more than 2000 instructions/)
    expect(refusal('x'.repeat(MAX_PATTERN_LENGTH + 1))).toMatch(/longer than 4096 characters/)
    expect(regexProblem('[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*')).toBeUndefined()
  })

  it('answers literal patterns without the automaton exactly as RE2 does', () => {
    const patterns = [
      'prod',
      'api|web|db',
      'api|',
      '10\\.0\\.0\\.1:9100|10\\.0\\.0\\.2:9100',
      'web-.*',
      '.*err.*',
      '.*\\.com',
      '.*',
      '.*.*',
      '.+',
      'a\\.*',
      '.*|x',
      'a|b.*',
      '',
    ]
    const values = [
      '',
      'prod',
      'production',
      'api',
      'db',
      'apiweb',
      '10.0.0.1:9100',
      '10x0.0.1:9100',
      'web-',
      'web-1',
      'an error here',
      'x.com',
      'xcom',
      'a..',
      'b',
      'bx',
      'x\ny',
    ]
    for (const pattern of patterns) {
      const re2 = RE2JS.compile(pattern, RE2JS.DOTALL)
      for (const value of values) {
        expect(matches(pattern, value), `${pattern} ~ ${JSON.stringify(value)}`).toBe(re2.matches(value))
        expect(finds(pattern, value), `${pattern} finds ${JSON.stringify(value)}`).toBe(re2.test(value))
      }
    }
  })
})

// A backtracking engine takes exponential time on these (the silence preview: twenty
// alerts whose `agent` is 40 to 60 `a`s and a `!`, `agent=~"(a+)+"`). On the RE2 automata they
// answer at once. No time is asserted: the timeout fails the test if an engine backtracks.
describe('pathological patterns answer in linear time', () => {
  const agents = Array.from({ length: 20 }, (_, i) => `${'a'.repeat(40 + i)}!`)

  it('(a+)+ against twenty values of 40 to 60 a and a !', { timeout: 2000 }, () => {
    const re = compileUserRegex('(a+)+')
    expect(agents.map((v) => re.test(v))).toEqual(agents.map(() => false))
    expect(re.test('a'.repeat(60))).toBe(true)
  })

  it('(.*.*)*# against values of 18 characters and more', { timeout: 2000 }, () => {
    const re = compileUserRegex('(.*.*)*#')
    for (const n of [18, 25, 40, 1024]) expect(re.test('x'.repeat(n))).toBe(false)
    expect(re.test(`${'x'.repeat(40)}#`)).toBe(true)
  })

  it('nested and overlapping repetition, anchored or found anywhere', { timeout: 2000 }, () => {
    const long = 'x'.repeat(1024)
    expect(compileUserRegex('(x+x+)+y').test(long)).toBe(false)
    expect(compileUserRegex('(x|xx)+y').test(long)).toBe(false)
    expect(compileUserRegex('(x+)+y', { anchored: false }).test(long)).toBe(false)
    expect(compileUserRegex('(?i)(X*)*Y', { anchored: false }).test(long)).toBe(false)
  })
})
