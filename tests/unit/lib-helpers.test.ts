import { describe, expect, it } from 'vitest'
import { isUniqueViolation } from '../../app/lib/db-errors.ts'
import { errorText } from '../../app/lib/errors.ts'
import { compileMatchers, matcherLines, parseMatchers, regexProblem } from '../../app/lib/matchers.ts'
import { clockOf } from '../../app/lib/time.ts'
import type { ErrorDetail } from '../../app/lib/errors.ts'

describe('app/lib matchers', () => {
  it('compiles =, !=, =~ (anchored) and !~, a missing label reading as empty', () => {
    const m = compileMatchers([{ label: 'job', op: '=~', value: 'api|web' }])
    expect(m({ job: 'api' })).toBe(true)
    expect(m({ job: 'api-2' })).toBe(false)
    expect(compileMatchers([{ label: 'env', op: '!=', value: 'prod' }])({})).toBe(true)
    expect(compileMatchers([{ label: 'env', op: '=', value: '' }])({ job: 'x' })).toBe(true)
    expect(compileMatchers([{ label: 'env', op: '!~', value: 'dev.*' }])({ env: 'development' })).toBe(false)
    expect(regexProblem('(a')).toMatch(/must be a valid RE2 regular expression/)
    expect(regexProblem('a.*')).toBeUndefined()
  })

  it('reads matcher lines and writes them back the same', () => {
    const errors: ErrorDetail[] = []
    const list = parseMatchers('env="prod"\n agent=~"billing|x" \n\nseverity!=info', 'matchers', errors)
    expect(errors).toEqual([])
    expect(list).toEqual([
      { label: 'env', op: '=', value: 'prod' },
      { label: 'agent', op: '=~', value: 'billing|x' },
      { label: 'severity', op: '!=', value: 'info' },
    ])
    expect(parseMatchers(matcherLines(list), 'matchers', errors)).toEqual(list)
    parseMatchers('1bad="x"\nno operator', 'matchers', errors)
    expect(errors.map((e) => e.field)).toEqual(['matchers', 'matchers'])
    expect(errors[0]!.message).toContain('is not label="value"')
  })
})

describe('app/lib errors', () => {
  it('errorText joins an error and its cause; isUniqueViolation finds the constraint, on a column if named', () => {
    const error = new Error('SQLITE_CONSTRAINT', { cause: new Error('UNIQUE constraint failed: policies.name') })
    expect(errorText(error)).toContain('SQLITE_CONSTRAINT')
    expect(errorText(error)).toContain('policies.name')
    expect(isUniqueViolation(error)).toBe(true)
    expect(isUniqueViolation(error, 'policies.name')).toBe(true)
    expect(isUniqueViolation(error, 'channels.name')).toBe(false)
    expect(isUniqueViolation(new Error('FOREIGN KEY constraint failed'))).toBe(false)
    expect(errorText('plain')).toContain('plain')
  })

  it('clockOf uses the deps clock when given, else the real one', () => {
    expect(clockOf({ now: () => 42 })()).toBe(42)
    const t = clockOf({})()
    expect(Math.abs(t - Date.now())).toBeLessThan(1000)
  })
})
