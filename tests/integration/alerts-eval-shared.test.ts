/**
 * A cycle's rules share their reads (`cycleReader`: each metric read once, over the widest span
 * its rules need): every kind of rule finds exactly what it finds reading on its own, and the
 * cycle reads each metric once. A rule that fails does not stop the others.
 */
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import {
  byMetric,
  cycleReader,
  directReader,
  evaluateRule,
  type Reader,
  type RuleSpec,
} from '../../app/modules/alerts/rules/evaluate.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { alertRules, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const store = createMetricStore(t.db)
const T = Date.UTC(2026, 0, 5, 12, 0, 0)
const MIN = 60_000

// 40 minutes of points, one a minute, for 6 hosts of two metrics (and a denominator), with a jump at the end on two hosts.
const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6']
const samples: Sample[] = hosts.flatMap((host, h) =>
  Array.from({ length: 40 }, (_, i): Sample[] => {
    const ts = T - (40 - i) * MIN + 5000
    const jump = i >= 37 && h < 2 ? 500 : 0
    return [
      {
        name: 'shared_latency',
        labels: { host, tier: h % 2 ? 'web' : 'db' },
        value: 100 + ((i * 7 + h * 13) % 20) + jump,
        ts,
      },
      { name: 'shared_errors', labels: { host }, value: h === 0 ? 9 : 1, ts },
      { name: 'shared_requests', labels: { host }, value: 100, ts },
    ]
  }).flat(),
)

const spec = (s: Partial<RuleSpec> & Pick<RuleSpec, 'kind'>): RuleSpec => ({
  metric: 'shared_latency',
  matchers: [],
  by: ['host'],
  agg: 'avg',
  windowMs: 5 * MIN,
  comparator: '>',
  value: 150,
  params: {},
  ...s,
})
const rules: RuleSpec[] = [
  spec({ kind: 'threshold' }),
  spec({ kind: 'threshold', agg: 'max', windowMs: 2 * MIN, matchers: [{ label: 'tier', op: '=~', value: 'd.*' }] }),
  spec({ kind: 'threshold', agg: 'p95', windowMs: 10 * MIN, by: ['tier'] }),
  spec({ kind: 'threshold', agg: 'rate', windowMs: 5 * MIN, value: 0 }),
  spec({ kind: 'change', params: { compareTo: 'previous' }, value: 50 }),
  spec({ kind: 'change', params: { compareTo: 'baseline', baselineMs: 20 * MIN }, value: 50 }),
  spec({ kind: 'absence', params: { minutes: 5 }, matchers: [{ label: 'host', op: '=', value: 'h9' }] }),
  spec({ kind: 'absence', params: { minutes: 5 } }),
  spec({ kind: 'anomaly', windowMs: 30 * MIN, params: { stepMs: MIN, zScore: 3 } }),
  spec({ kind: 'ratio', metric: 'shared_errors', params: { denominator: 'shared_requests' }, value: 0.05 }),
]

describe('shared reads in an evaluation cycle', () => {
  it('give every kind of rule the same candidates as reading alone, reading each metric once', async () => {
    await store.write(samples, T)
    const now = T
    const alone = await Promise.all(rules.map((r) => evaluateRule(t.db, r, now)))
    expect(alone.flat().some((c) => c.holds)).toBe(true) // the data breaches somewhere
    expect(alone.flat().some((c) => !c.holds)).toBe(true)
    const shared = cycleReader(t.db, rules, now)
    const reads: string[] = []
    const counting: Reader = (q) => {
      reads.push(q.metric)
      return shared(q)
    }
    const direct = directReader(t.db)
    let readsAlone = 0
    await Promise.all(rules.map((r) => evaluateRule(t.db, r, now, (q) => (readsAlone++, direct(q)))))
    const together: Map<RuleSpec, unknown> = new Map()
    for (const r of byMetric(rules)) together.set(r, await evaluateRule(t.db, r, now, counting))
    rules.forEach((r, i) => void expect(together.get(r), `${r.kind} ${r.agg} ${r.windowMs}`).toEqual(alone[i]))
    expect(reads.length).toBe(readsAlone)
  })

  it('a cycle evaluates every rule and one that fails does not stop the others', async () => {
    const evaluator = t.services.alerts
    const now = T
    const created: string[] = []
    for (const [i, r] of rules.entries()) {
      const id = `shared-rule-${i}`
      await t.db.insert(alertRules).values({
        id,
        name: `shared ${i}`,
        kind: r.kind,
        metric: r.metric,
        matchers: r.matchers,
        by: r.by,
        agg: r.agg,
        windowMs: r.windowMs,
        comparator: r.comparator,
        value: r.value,
        params: r.params,
        createdAt: now,
        updatedAt: now,
      })
      created.push(id)
    }
    // A rule whose regex cannot compile fails on its own.
    await t.db.insert(alertRules).values({
      id: 'shared-bad',
      name: 'shared bad',
      kind: 'threshold',
      metric: 'shared_latency',
      matchers: [{ label: 'host', op: '=~', value: '(' }],
      windowMs: 5 * MIN,
      comparator: '>',
      value: 0,
      createdAt: now,
      updatedAt: now,
    })
    const result = await evaluator.evaluateAll(now)
    expect(result.failed).toBe(1)
    expect(result.rules).toBe(rules.length + 1)
    const expected = (await Promise.all(rules.map((r) => evaluateRule(t.db, r, now)))).map(
      (c) => c.filter((x) => x.holds).length,
    )
    const got = await Promise.all(
      created.map(async (id) => (await t.db.select(storedAlert).from(alerts).where(eq(alerts.ruleId, id))).length),
    )
    expect(got).toEqual(expected)
    expect(result.changes).toBe(expected.reduce((a, b) => a + b, 0))
  })
})
