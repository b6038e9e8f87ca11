import { describe, expect, it } from 'vitest'
import { anomalyCandidates, compare, thresholdCandidates, windowValue, type Group } from '../../app/modules/alerts/evaluate.ts'
import { labelsFingerprint, nextState, ruleFingerprint, type AlertReport } from '../../app/modules/alerts/lifecycle.ts'
import { compileMatchers, regexProblem } from '../../app/modules/alerts/matchers.ts'
import { decide } from '../../app/modules/alerts/runner.ts'
import { renderTemplate, templateProblem } from '../../app/modules/alerts/templates.ts'
import { merge, newBucket, type Bucket } from '../../app/modules/metrics/query.ts'
import { emptySketch } from '../../app/modules/metrics/sketch.ts'
import type { Alert } from '../../db/schema/alerts.ts'

describe('label matchers', () => {
  it('regexes are anchored like Prometheus and a missing label reads as empty', () => {
    const m = compileMatchers([{ label: 'job', op: '=~', value: 'api|web' }])
    expect(m({ job: 'api' })).toBe(true)
    expect(m({ job: 'api-2' })).toBe(false)
    expect(compileMatchers([{ label: 'env', op: '!=', value: 'prod' }])({})).toBe(true)
    expect(compileMatchers([{ label: 'env', op: '=', value: '' }])({ job: 'x' })).toBe(true)
    expect(compileMatchers([{ label: 'env', op: '!~', value: 'dev.*' }])({ env: 'development' })).toBe(false)
    expect(regexProblem('(a')).toMatch(/not a valid regular expression/)
    expect(regexProblem('a.*')).toBeUndefined()
  })
})

describe('templates', () => {
  const ctx = { value: 0.123456789, labels: { agent: 'coder' }, rule: { name: 'errors', metric: 'e', severity: 'error', kind: 'ratio', value: 0.05 } }
  it('fills value, labels and rule fields and nothing else', () => {
    expect(renderTemplate('{{ rule.name }}: {{labels.agent}} at {{value}} > {{rule.threshold}}{{labels.missing}}', ctx)).toBe('errors: coder at 0.123457 > 0.05')
    expect(renderTemplate('{{constructor}}', ctx)).toBe('')
  })
  it('refuses unknown placeholders and unbalanced braces', () => {
    expect(templateProblem('{{value}} {{labels.a}} {{rule.name}}')).toBeUndefined()
    expect(templateProblem('{{process.exit()}}')).toMatch(/unknown placeholder/)
    expect(templateProblem('{{value')).toMatch(/unbalanced/)
    expect(templateProblem('value}}')).toMatch(/unbalanced/)
  })
})

describe('fingerprints', () => {
  it('do not depend on label order; rules and senders differ', () => {
    expect(ruleFingerprint('r1', { a: '1', b: '2' })).toBe(ruleFingerprint('r1', { b: '2', a: '1' }))
    expect(ruleFingerprint('r1', { a: '1' })).not.toBe(ruleFingerprint('r2', { a: '1' }))
    expect(labelsFingerprint({ a: '1', b: '2' })).toBe(labelsFingerprint({ b: '2', a: '1' }))
    expect(labelsFingerprint({ a: '1' })).not.toBe(ruleFingerprint('', { a: '1' }))
  })
})

const alert = (over: Partial<Alert>): Alert => ({
  id: 'A', fingerprint: 'f', ruleId: null, source: 'rule', title: 't', status: 'firing', silenced: false, severity: 'error', labels: {}, annotations: {}, value: 1,
  startsAt: 0, activeAt: 0, endsAt: null, lastSeenAt: 0, repeatCount: 1, ackBy: null, ackAt: null, resolvedBy: null, resolvedAt: null, createdAt: 0, updatedAt: 0, ...over,
})

describe('decide: for and keepFiringFor', () => {
  const rule = { forMs: 60_000, keepFiringForMs: 120_000 }
  it('pending until the condition has held for `for`', () => {
    expect(decide(undefined, true, rule, 0)).toBe('pending')
    expect(decide(undefined, true, { ...rule, forMs: 0 }, 0)).toBe('firing')
    expect(decide(alert({ status: 'pending', activeAt: 0 }), true, rule, 59_999)).toBe('pending')
    expect(decide(alert({ status: 'pending', activeAt: 0 }), true, rule, 60_000)).toBe('firing')
    expect(decide(alert({ status: 'resolved' }), true, rule, 1)).toBe('pending')
  })
  it('keeps firing for keepFiringFor after the condition was last seen', () => {
    expect(decide(alert({ lastSeenAt: 0 }), false, rule, 119_999)).toBeNull()
    expect(decide(alert({ lastSeenAt: 0 }), false, rule, 120_000)).toBe('resolved')
    expect(decide(alert({ status: 'acknowledged', lastSeenAt: 0 }), false, rule, 120_000)).toBe('resolved')
    expect(decide(alert({ status: 'pending' }), false, rule, 1)).toBe('resolved')
    expect(decide(undefined, false, rule, 1)).toBeNull()
  })
})

describe('nextState', () => {
  const report = (over: Partial<AlertReport>): AlertReport => ({ fingerprint: 'f', source: 'api', state: 'firing', severity: 'error', title: 't', labels: {}, ...over })
  it('creates, repeats, resolves and reopens one row', () => {
    const created = nextState(null, report({}), 10)!
    expect(created.change).toBe('created')
    expect(created.after).toMatchObject({ status: 'firing', startsAt: 10, repeatCount: 1 })
    expect(created.events.map((e) => e.type)).toEqual(['created', 'fired'])
    const again = nextState(created.after, report({ value: 5 }), 20)!
    expect(again.after).toMatchObject({ id: created.after.id, repeatCount: 2, value: 5, lastSeenAt: 20 })
    expect(nextState(created.after, report({ quietRepeat: true }), 20)!.events).toEqual([])
    const resolved = nextState(again.after, report({ state: 'resolved' }), 30)!
    expect(resolved.after).toMatchObject({ status: 'resolved', endsAt: 30 })
    expect(nextState(resolved.after, report({ state: 'resolved' }), 40)).toBeNull()
    expect(nextState(null, report({ state: 'resolved' }), 40)).toBeNull()
    const reopened = nextState(resolved.after, report({}), 50)!
    expect(reopened.after).toMatchObject({ id: created.after.id, status: 'firing', startsAt: 50, endsAt: null, repeatCount: 1, resolvedAt: null })
  })
})

const bucket = (values: number[]): Bucket => {
  const b = newBucket()
  for (const v of values) merge(b, { count: 1, sum: v, min: v, max: v, last: v, lastTs: 0 }, emptySketch())
  return b
}

describe('pure evaluation', () => {
  it('compares with every comparator', () => {
    expect([compare(2, '>', 1), compare(1, '>=', 1), compare(0, '<', 1), compare(1, '<=', 1), compare(1, '==', 1), compare(1, '!=', 2)]).toEqual([true, true, true, true, true, true])
  })
  it('merges a group\'s members over the window and applies the comparator', () => {
    const now = 600_000
    const g: Group = { labels: { a: '1' }, lastSeenAt: 0, members: [new Map([[540_000, bucket([10, 20])]]), new Map([[480_000, bucket([30])], [0, bucket([1000])]])] }
    expect(windowValue(g, 'avg', now, 300_000)).toBe(20)
    expect(windowValue(g, 'sum', now, 300_000, 1)).toBe(1000)
    expect(thresholdCandidates({ kind: 'threshold', metric: 'm', matchers: [], by: [], agg: 'max', windowMs: 300_000, comparator: '>=', value: 30, params: {} }, [g], now)).toEqual([{ labels: { a: '1' }, value: 30, holds: true }])
  })
  it('anomaly needs spread and three earlier steps', () => {
    const rule = { kind: 'anomaly' as const, metric: 'm', matchers: [], by: [], agg: 'avg', windowMs: 600_000, comparator: null, value: null, params: { zScore: 3 } }
    const flat: Group = { labels: {}, lastSeenAt: 0, members: [new Map(Array.from({ length: 10 }, (_, i) => [i * 60_000, bucket([5])] as [number, Bucket]))] }
    expect(anomalyCandidates(rule, [flat], 600_000)[0]).toMatchObject({ holds: false, value: null })
  })
})
