import { describe, expect, it } from 'vitest'
import { parseMatchers } from '../../app/lib/matchers.ts'
import { renderTemplate, templateProblem } from '../../app/modules/alerts/rules/templates.ts'

// Text users type, read in time linear in its length: the cases below took quadratic or cubic time
// with the regexes they replace. A backtracking regex fails them by timing out (nothing measures time).
describe('linear-time parsing of user text', () => {
  it('matcher lines of 16,000 characters (spaces inside the value) are read', { timeout: 5000 }, () => {
    const line = `agent="x${' '.repeat(16_000)}y"`
    const errors: { field: string; message: string }[] = []
    // Twenty such lines: one took about a second with the old pattern.
    const list = parseMatchers(Array(20).fill(line).join('\n'), 'matchers', errors)
    expect(errors).toEqual([])
    expect(list).toHaveLength(20)
    expect(list[0]).toEqual({ label: 'agent', op: '=', value: `x${' '.repeat(16_000)}y` })
  })

  it('a description of `{{` and 4,000 spaces is refused as unbalanced', { timeout: 5000 }, () => {
    const text = `{{${' '.repeat(4000)}`
    expect(templateProblem(text)).toBe('has an unbalanced {{ or }}')
  })

  it('placeholders with spaces around the key still fill', () => {
    expect(templateProblem('at {{  value }} on {{labels.q}}')).toBeUndefined()
    const ctx = {
      value: 3,
      labels: { q: 'a' },
      rule: { name: 'r', metric: 'm', severity: 'warning', kind: 'threshold', threshold: 1 },
    }
    expect(renderTemplate('at {{  value }} on {{labels.q }}', ctx as never)).toBe('at 3 on a')
    expect(templateProblem('{{ nope }}')).toMatch(/unknown placeholder \{\{nope\}\}/)
  })
})
