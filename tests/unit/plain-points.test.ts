import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { batchBody, plainPoints, Point } from '../../app/modules/metrics/schema.ts'

// plainPoints is a shortcut for the common shape: whenever it answers, it must answer what the
// schemas would; whenever the schemas refuse, it must step aside (undefined) so they name the problem.
const schema = batchBody(3)
const cases: unknown[] = [
  { name: 'a', value: 1 },
  { name: 'a:b_c', value: -1.5, labels: { x: 'y', z: '' }, ts: 1_700_000_000_000 },
  { name: 'a', value: 1, ts: '2026-11-01T00:00:00Z' }, // text time: the schemas' job
  { name: 'a', value: 1, ts: 1.5 },
  { name: 'a', value: 1, ts: -1 },
  { name: '1a', value: 1 },
  { name: 'a'.repeat(201), value: 1 },
  { name: 'a', value: '1' },
  { name: 'a', value: 1, extra: true },
  { name: 'a', value: 1, labels: { __x: 'y' } },
  { name: 'a', value: 1, labels: { 'bad-name': 'y' } },
  { name: 'a', value: 1, labels: { x: 1 } },
  { name: 'a', value: 1, labels: { x: 'v'.repeat(1025) } },
  { name: 'a', value: 1, labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])) },
  { name: 'a', value: 1, labels: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`l${i}`, 'v'])) },
  { name: 'a', value: 1, labels: JSON.parse('{"constructor":"x"}') },
  { name: 'a', value: 1, labels: null },
  { name: 'a', value: 1, labels: ['x'] },
  {
    points: [
      { name: 'a', value: 1 },
      { name: 'b', value: 2, labels: { k: 'v' } },
    ],
  },
  { points: [] },
  {
    points: [
      { name: 'a', value: 1 },
      { name: 'a', value: 1 },
      { name: 'a', value: 1 },
      { name: 'a', value: 1 },
    ],
  },
  {
    points: [
      { name: 'a', value: 1 },
      { name: 'a b', value: 1 },
    ],
  },
  { points: [{ name: 'a', value: 1 }], more: 1 },
  { points: 'x' },
  null,
  [{ name: 'a', value: 1 }],
  'a',
]

describe('plainPoints', () => {
  it.each(cases.map((c) => [JSON.stringify(c)?.slice(0, 60) ?? String(c), c]))(
    'agrees with the schemas: %s',
    (_, body) => {
      const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'points' in body
      const full = v.safeParse(isBatch ? schema : Point, body)
      const fast = plainPoints(body, 3)
      if (!full.success) return expect(fast).toBeUndefined()
      const want = 'points' in full.output ? full.output.points : [full.output]
      if (fast) expect(fast).toEqual(want)
    },
  )

  it('takes the plain shapes (so the shortcut is used at all)', () => {
    expect(plainPoints(cases[1], 3)).toHaveLength(1)
    expect(plainPoints(cases[18], 3)).toHaveLength(2)
  })
})
