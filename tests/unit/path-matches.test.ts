import { describe, expect, it } from 'vitest'
import { pathMatches } from '../../app/middleware/errors.tsx'

describe('pathMatches (405 with Allow)', () => {
  it('reads params, one star and literal segments, with one trailing slash allowed', () => {
    const cases: [string, string, boolean][] = [
      ['/api/v1/alerts', '/api/v1/alerts', true],
      ['/api/v1/alerts', '/api/v1/alerts/', true],
      ['/api/v1/alerts', '/api/v1/alerts//', false],
      ['/api/v1/alerts', '/api/v1/alertsx', false],
      ['/api/v1/alerts/:id', '/api/v1/alerts/42', true],
      ['/api/v1/alerts/:id', '/api/v1/alerts/', false],
      ['/api/v1/alerts/:id', '/api/v1/alerts/42/ack', false],
      ['/api/v1/alerts/:id/ack', '/api/v1/alerts/42/ack/', true],
      ['/static/*', '/static/', true],
      ['/static/*', '/static/css/app.css', true],
      ['/static/*', '/static', false],
      ['/a/*/b', '/a/x/y/b', true],
      ['/a/*/b', '/a//b', true],
      ['/a/*/b', '/a/b', false],
      ['/', '/', true],
      ['/', '//', true],
      ['/', '/x', false],
      ['/api/v1/x.y', '/api/v1/xzy', false],
    ]
    for (const [pattern, path, want] of cases) expect(pathMatches(pattern, path), `${pattern} ${path}`).toBe(want)
  })

  it('answers at once for a long path', { timeout: 2000 }, () => {
    const path = `/static/${'a/'.repeat(50_000)}x`
    expect(pathMatches('/static/*', path)).toBe(true)
    expect(pathMatches('/a/:x/*/b', `/a/${'/'.repeat(100_000)}c`)).toBe(false)
  })
})
