import { describe, expect, it } from 'vitest'
import {
  anomalyCandidates,
  compare,
  thresholdCandidates,
  windowValue,
  type Group,
} from '../../app/modules/alerts/rules/evaluate.ts'
import { createHash } from 'node:crypto'
import {
  canonicalText,
  labelsFingerprint,
  nextState,
  ruleFingerprint,
  createTurns,
  type AlertReport,
} from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { compileMatchers, regexProblem } from '../../app/lib/matchers.ts'
import { decide } from '../../app/modules/alerts/rules/runner.ts'
import { renderTemplate, templateProblem } from '../../app/modules/alerts/rules/templates.ts'
import { merge, newBucket, type Bucket } from '../../app/modules/metrics/query.ts'
import { emptySketch } from '../../app/modules/metrics/sketch.ts'
import type { Alert } from '../../db/schema/alerts.ts'
import { sha256 } from '../../app/lib/crypto.ts'
import { canonicalLabels } from '../../app/modules/metrics/store.ts'
import { parseTime, toMs } from '../../app/modules/alerts/receivers/common.ts'
import { cacheCheck, plainText } from '../../app/modules/alerts/intake/alert-cache.ts'

describe('label matchers', () => {
  it('regexes are anchored like Prometheus and a missing label reads as empty', () => {
    const m = compileMatchers([{ label: 'job', op: '=~', value: 'api|web' }])
    expect(m({ job: 'api' })).toBe(true)
    expect(m({ job: 'api-2' })).toBe(false)
    expect(compileMatchers([{ label: 'env', op: '!=', value: 'prod' }])({})).toBe(true)
    expect(compileMatchers([{ label: 'env', op: '=', value: '' }])({ job: 'x' })).toBe(true)
    expect(compileMatchers([{ label: 'env', op: '!~', value: 'dev.*' }])({ env: 'development' })).toBe(false)
    expect(regexProblem('(a')).toMatch(/must be a valid RE2 regular expression/)
    expect(regexProblem('a.*')).toBeUndefined()
  })
})

describe('templates', () => {
  const ctx = {
    value: 0.123456789,
    labels: { agent: 'coder' },
    rule: { name: 'errors', metric: 'e', severity: 'error', kind: 'ratio', value: 0.05 },
  }
  it('fills value, labels and rule fields and nothing else', () => {
    expect(
      renderTemplate('{{ rule.name }}: {{labels.agent}} at {{value}} > {{rule.threshold}}{{labels.missing}}', ctx),
    ).toBe('errors: coder at 0.123457 > 0.05')
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

  it('of a source come after its prefix, and a label set remembered under one prefix is not taken for another', () => {
    const labels = { alertname: 'Prefixed', instance: 'host-1' }
    const bare = labelsFingerprint(labels)
    for (let i = 0; i < 2; i++) {
      expect(labelsFingerprint(labels, 'prometheus:')).toBe(`prometheus:${bare}`)
      expect(labelsFingerprint(labels, 'grafana:')).toBe(`grafana:${bare}`)
      expect(labelsFingerprint(labels)).toBe(bare)
    }
  })

  it('are worked out from the labels as they are now, label sets with the same 32-bit hash apart', () => {
    const direct = (labels: Record<string, string>) =>
      sha256(`labels\u0000${JSON.stringify(canonicalLabels(labels))}`).slice(0, 32)
    expect(labelsFingerprint({ ab: 'c' })).not.toBe(labelsFingerprint({ a: 'bc' }))
    // These two label sets have the same 32-bit hash (found by search): each keeps its own fingerprint.
    const one = { job: 'api', instance: 'host-129599' }
    const other = { job: 'api', instance: 'host-732382' }
    for (let i = 0; i < 3; i++) {
      expect(labelsFingerprint(one)).toBe(direct(one))
      expect(labelsFingerprint(other)).toBe(direct(other))
    }
    // A caller changing its labels object afterwards gets the fingerprint of what it holds now.
    const mine = { job: 'api', instance: 'host-1' }
    const before = labelsFingerprint(mine)
    mine.instance = 'host-2'
    expect(labelsFingerprint(mine)).toBe(direct({ job: 'api', instance: 'host-2' }))
    expect(labelsFingerprint({ job: 'api', instance: 'host-1' })).toBe(before)
  })
  it('are the ones stored before the canonical text was written out directly (no migration: ADR 0013)', () => {
    // The definition every stored fingerprint was made with: SHA-256 (streaming API) of the JSON of
    // the labels sorted into an object.
    const stored = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32)
    const sets: Record<string, string>[] = [
      {},
      { alertname: 'A', instance: 'node-00001:9100', job: 'node', severity: 'warning' },
      { z: '1', a: '2', M: '3', _: '4', 'team-name': 'x' },
      { empty: '', kept: 'v' },
      { quote: 'say "hi"\\ \n\u0001', ü: 'ö', emoji: '🚨', '\u00e9': 'e' },
      // Sorted as sent (Prometheus), reversed, and names that differ only past a common prefix.
      { alertname: 'A', instance: 'i', job: 'j', severity: 's' },
      { severity: 's', job: 'j', instance: 'i', alertname: 'A' },
      { ab: '1', a: '2', abc: '3', B: '4', 'a-b': '5', a_b: '6' },
      // A lone surrogate (escaped by JSON.stringify), a pair (not escaped), DEL and U+2028 (not escaped).
      { lone: '\ud83d', pair: '\ud83d\udea8', del: '\u007f', ls: '\u2028', '\ud800x': 'name' },
      // Names an object orders as array indexes, not by the sort: the original path.
      { '10': 'a', '9': 'b', x: 'c' },
      { '01': 'a', b: 'c' },
      JSON.parse('{"__proto__":"p","a":"b"}'),
    ]
    for (const labels of sets) {
      expect(canonicalText(labels)).toBe(JSON.stringify(canonicalLabels(labels)))
      expect(labelsFingerprint(labels, 'prometheus:')).toBe(
        `prometheus:${stored(`labels\u0000${JSON.stringify(canonicalLabels(labels))}`)}`,
      )
      expect(ruleFingerprint('r1', labels)).toBe(stored(`rule\u0000r1\u0000${JSON.stringify(canonicalLabels(labels))}`))
    }
    expect(sha256('abc')).toBe(createHash('sha256').update('abc').digest('hex'))
  })
})

const alert = (over: Partial<Alert>): Alert => ({
  id: 'A',
  fingerprint: 'f',
  ruleId: null,
  source: 'rule',
  title: 't',
  status: 'firing',
  silenced: false,
  severity: 'error',
  labels: {},
  annotations: {},
  value: 1,
  startsAt: 0,
  activeAt: 0,
  endsAt: null,
  lastSeenAt: 0,
  repeatCount: 1,
  ackBy: null,
  ackAt: null,
  resolvedBy: null,
  resolvedAt: null,
  createdAt: 0,
  updatedAt: 0,
  ...over,
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
  const report = (over: Partial<AlertReport>): AlertReport => ({
    fingerprint: 'f',
    source: 'api',
    state: 'firing',
    severity: 'error',
    title: 't',
    labels: {},
    ...over,
  })
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
    expect(reopened.after).toMatchObject({
      id: created.after.id,
      status: 'firing',
      startsAt: 50,
      endsAt: null,
      repeatCount: 1,
      resolvedAt: null,
    })
  })

  it('moves pending on to firing, keeps an acknowledgement through repeats, clears it on reopening, and never changes the row it was given', () => {
    const pending = nextState(null, report({ state: 'pending', labels: { job: 'api' } }), 10)!
    expect(pending).toMatchObject({
      change: 'created',
      after: { status: 'pending', startsAt: null, repeatCount: 0, activeAt: 10 },
    })
    const still = nextState(pending.after, report({ state: 'pending', labels: { job: 'api' } }), 15)!
    expect(still).toMatchObject({ change: 'none', events: [], after: { status: 'pending', lastSeenAt: 15 } })
    // The same labels keep the stored object (the cache holds one copy, not each request's).
    expect(still.after.labels).toBe(pending.after.labels)
    const fired = nextState(still.after, report({ labels: { job: 'api' } }), 20)!
    expect(fired).toMatchObject({ change: 'fired', after: { status: 'firing', startsAt: 20, repeatCount: 1 } })
    const acked = { ...fired.after, status: 'acknowledged' as const, ackBy: 'ann', ackAt: 25 }
    const frozen = structuredClone(acked)
    const repeat = nextState(acked, report({ quietRepeat: true, labels: { job: 'api' } }), 30)!
    expect(repeat).toMatchObject({
      change: 'repeated',
      after: { status: 'acknowledged', ackBy: 'ann', ackAt: 25, repeatCount: 2, lastSeenAt: 30, updatedAt: 30 },
    })
    expect(acked).toEqual(frozen)
    const resolved = nextState(repeat.after, report({ state: 'resolved' }), 40)!
    expect(resolved).toMatchObject({ after: { status: 'resolved', resolvedBy: 'api', resolvedAt: 40, ackBy: 'ann' } })
    const back = nextState(resolved.after, report({ state: 'pending' }), 50)!
    expect(back).toMatchObject({
      change: 'pending',
      after: {
        status: 'pending',
        ackBy: null,
        ackAt: null,
        resolvedBy: null,
        resolvedAt: null,
        endsAt: null,
        repeatCount: 0,
        activeAt: 50,
      },
    })
    expect(Object.keys(back.after).sort()).toEqual(Object.keys(created()).sort())
  })
  const created = () => nextState(null, report({}), 1)!.after
})

describe('turns per fingerprint', () => {
  // One alerts service's turns (each service makes its own).
  const { serialized, serializedAll } = createTurns()
  const gate = () => {
    let open!: () => void
    const opened = new Promise<void>((r) => (open = r))
    return { open, opened }
  }

  it('run the reports of one fingerprint one after another, a group after the single reports of any of its fingerprints', async () => {
    const order: string[] = []
    const first = gate()
    const a = serialized('turn-a', async () => {
      await first.opened
      order.push('a1')
    })
    const b = serialized('turn-a', async () => void order.push('a2'))
    const group = serializedAll(['turn-x', 'turn-a', 'turn-x'], async () => void order.push('group'))
    const other = serialized('turn-y', async () => void order.push('y'))
    await other
    expect(order).toEqual(['y'])
    first.open()
    await Promise.all([a, b, group])
    expect(order).toEqual(['y', 'a1', 'a2', 'group'])
  })

  it('still wait for a turn in progress after many groups have come and gone', async () => {
    const held = gate()
    const order: string[] = []
    const long = serialized('turn-held', async () => {
      await held.opened
      order.push('held')
    })
    for (let i = 0; i < 20_000; i += 1000)
      await serializedAll(
        Array.from({ length: 1000 }, (_, j) => `turn-${i + j}`),
        async () => undefined,
      )
    const after = serialized('turn-held', async () => void order.push('after'))
    await new Promise((r) => setTimeout(r, 10))
    expect(order).toEqual([])
    held.open()
    await Promise.all([long, after])
    expect(order).toEqual(['held', 'after'])
  })

  it('run a single report after a group in flight that holds its fingerprint, and beside one that does not', async () => {
    const held = gate()
    const order: string[] = []
    const group = serializedAll(['turn-g1', 'turn-g2'], async () => {
      await held.opened
      order.push('group')
    })
    const inGroup = serialized('turn-g2', async () => void order.push('g2'))
    const outside = serialized('turn-g3', async () => void order.push('g3'))
    await outside
    expect(order).toEqual(['g3'])
    held.open()
    await Promise.all([group, inGroup])
    expect(order).toEqual(['g3', 'group', 'g2'])
  })

  it('run a group after a group of another pipeline that shares a fingerprint, not after the groups of its own', async () => {
    const held = gate()
    const order: string[] = []
    const mine = new Set<Promise<unknown>>()
    const first = serializedAll(
      ['turn-p1'],
      async () => {
        await held.opened
        order.push('first')
      },
      mine,
    )
    const sameLine = serializedAll(['turn-p1'], async () => void order.push('same pipeline'), mine)
    const otherLine = serializedAll(['turn-p2', 'turn-p1'], async () => void order.push('other pipeline'), new Set())
    await sameLine
    expect(order).toEqual(['same pipeline'])
    held.open()
    await Promise.all([first, otherLine])
    expect(order).toEqual(['same pipeline', 'first', 'other pipeline'])
  })
})

const bucket = (values: number[]): Bucket => {
  const b = newBucket()
  for (const v of values) merge(b, { count: 1, sum: v, min: v, max: v, last: v, lastTs: 0 }, emptySketch())
  return b
}

describe('pure evaluation', () => {
  it('compares with every comparator', () => {
    expect([
      compare(2, '>', 1),
      compare(1, '>=', 1),
      compare(0, '<', 1),
      compare(1, '<=', 1),
      compare(1, '==', 1),
      compare(1, '!=', 2),
    ]).toEqual([true, true, true, true, true, true])
  })
  it("merges a group's members over the window and applies the comparator", () => {
    const now = 600_000
    const g: Group = {
      labels: { a: '1' },
      lastSeenAt: 0,
      members: [
        new Map([[540_000, bucket([10, 20])]]),
        new Map([
          [480_000, bucket([30])],
          [0, bucket([1000])],
        ]),
      ],
    }
    expect(windowValue(g, 'avg', now, 300_000)).toBe(20)
    expect(windowValue(g, 'sum', now, 300_000, 1)).toBe(1000)
    expect(
      thresholdCandidates(
        {
          kind: 'threshold',
          metric: 'm',
          matchers: [],
          by: [],
          agg: 'max',
          windowMs: 300_000,
          comparator: '>=',
          value: 30,
          params: {},
        },
        [g],
        now,
      ),
    ).toEqual([{ labels: { a: '1' }, value: 30, holds: true }])
  })
  it('anomaly needs spread and three earlier steps', () => {
    const rule = {
      kind: 'anomaly' as const,
      metric: 'm',
      matchers: [],
      by: [],
      agg: 'avg',
      windowMs: 600_000,
      comparator: null,
      value: null,
      params: { zScore: 3 },
    }
    const flat: Group = {
      labels: {},
      lastSeenAt: 0,
      members: [new Map(Array.from({ length: 10 }, (_, i) => [i * 60_000, bucket([5])] as [number, Bucket]))],
    }
    expect(anomalyCandidates(rule, [flat], 600_000)[0]).toMatchObject({ holds: false, value: null })
  })
})

describe('receivers: times', () => {
  it('are parsed as Date.parse parses them, remembered or not, and slots shared by two texts never mix them up', () => {
    const base = Date.parse('2026-11-23T22:00:00.000Z')
    const texts = Array.from({ length: 500 }, (_, i) => new Date(base + i * 1_001).toISOString())
    texts.push('', 'not a time', '0001-01-01T00:00:00Z', '2026-11-23T23:00:00+01:00')
    for (let round = 0; round < 3; round++) {
      for (const s of texts) expect(Object.is(parseTime(s), Date.parse(s))).toBe(true)
      expect(toMs('0001-01-01T00:00:00Z')).toBeUndefined()
      expect(toMs('not a time')).toBeUndefined()
      expect(toMs(texts[7])).toBe(base + 7 * 1_001)
    }
  })
})

describe('the cache check', () => {
  const alert = (id: string, ruleId: string | null, silenced: boolean): Alert =>
    ({ id, ruleId, status: 'firing', repeatCount: 41, silenced, updatedAt: 1_763_900_000_123 }) as Alert
  it('lists each alert by id with its state as "updated|status|count|silenced|rule", whatever characters the ids hold', () => {
    const used = [
      alert('01JXA', null, false),
      alert('01JXB', '01JXRULE', true),
      alert('odd "id"', 'rule\\with "quotes" é', false),
      alert('tab\there', null, false),
    ]
    const { args } = cacheCheck(used)
    expect(JSON.parse(args[0] as string)).toEqual({
      '01JXA': '1763900000123|firing|41|0|',
      '01JXB': '1763900000123|firing|41|1|01JXRULE',
      'odd "id"': '1763900000123|firing|41|0|rule\\with "quotes" é',
      'tab\there': '1763900000123|firing|41|0|',
    })
    expect(args[1]).toBe(4)
    expect(['01JXA', 'é ✓', ''].every(plainText)).toBe(true)
    expect(['a"b', 'a\\b', 'a\nb', '\u0000'].some(plainText)).toBe(false)
  })
})
