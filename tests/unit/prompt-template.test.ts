/** Prompt templates: placeholders, the declared-variables check, compiling, the content hash and the line diff. */
import { describe, expect, it } from 'vitest'
import {
  checkDeclared,
  compile,
  contentHash,
  lineDiff,
  placeholders,
} from '../../app/modules/registry/prompts/template.ts'

describe('placeholders and declared variables', () => {
  it('finds each {{name}} once, in order, spaces inside the braces allowed; not malformed ones', () => {
    expect(placeholders('Hi {{ name }}, {{city}} and {{name}} again; {{1bad}} {{a-b}} {single}')).toEqual([
      'name',
      'city',
    ])
  })

  it('names what is undeclared and what is declared but unused', () => {
    expect(checkDeclared('Hi {{name}} from {{city}}', ['name', 'zip'])).toEqual([
      { field: 'template', message: 'uses undeclared variables: city' },
      { field: 'variables', message: 'declared but not used: zip' },
    ])
    expect(checkDeclared('Hi {{name}}', ['name'])).toEqual([])
    expect(checkDeclared('No variables', [])).toEqual([])
  })
})

describe('compile', () => {
  it('fills every placeholder; a value with $& or {{…}} is text, not a pattern or a placeholder', () => {
    expect(compile('{{a}} and {{ b }} and {{a}}', ['a', 'b'], { a: '$&$1', b: '{{a}}' })).toEqual({
      ok: true,
      text: '$&$1 and {{a}} and $&$1',
    })
  })

  it('refuses missing and unknown variables by name', () => {
    expect(compile('{{a}} {{b}}', ['a', 'b'], { a: 'x', c: 'y' })).toEqual({
      ok: false,
      issues: [
        { field: 'var.b', message: 'is missing' },
        { field: 'var.c', message: 'is not a variable of this version' },
      ],
    })
  })
})

describe('contentHash', () => {
  it('is the same for the same content whatever the order of variables and parameter keys', () => {
    const a = contentHash({ template: 't', variables: ['x', 'y'], parameters: { a: 1, b: { c: 2, d: [1, 2] } } })
    const b = contentHash({ template: 't', variables: ['y', 'x'], parameters: { b: { d: [1, 2], c: 2 }, a: 1 } })
    expect(a).toBe(b)
    expect(
      contentHash({ template: 't', variables: ['x', 'y'], parameters: { a: 2, b: { c: 2, d: [1, 2] } } }),
    ).not.toBe(a)
    expect(
      contentHash({ template: 't ', variables: ['x', 'y'], parameters: { a: 1, b: { c: 2, d: [1, 2] } } }),
    ).not.toBe(a)
    expect(
      contentHash({ template: 't', variables: ['x', 'y'], parameters: { a: 1, b: { c: 2, d: [2, 1] } } }),
    ).not.toBe(a)
  })
})

describe('lineDiff', () => {
  it('keeps common lines and marks removed and added ones', () => {
    expect(lineDiff('a\nb\nc\nd', 'a\nc\nx\nd')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: ' ', text: 'c' },
      { op: '+', text: 'x' },
      { op: ' ', text: 'd' },
    ])
    expect(lineDiff('same', 'same')).toEqual([{ op: ' ', text: 'same' }])
    expect(lineDiff('', 'new')).toEqual([
      { op: '-', text: '' },
      { op: '+', text: 'new' },
    ])
  })

  it('falls back to all removed, all added past its size cap instead of a huge table', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a${i}`).join('\n')
    const b = Array.from({ length: 3000 }, (_, i) => `b${i}`).join('\n')
    const d = lineDiff(a, b)
    expect(d).toHaveLength(6000)
    expect(d[0]).toEqual({ op: '-', text: 'a0' })
    expect(d[3000]).toEqual({ op: '+', text: 'b0' })
  })
})
