import { describe, expect, it } from 'vitest'
import type { Alert } from '../../db/schema/alerts.ts'
import { backoff, MAX_ATTEMPTS } from '../../app/modules/notify/delivery.ts'
import { atLeast, kindOf } from '../../app/modules/notify/outbox.ts'
import { pagerDutyEvents, signature, webhookBody, type AlertSnapshot } from '../../app/modules/notify/senders.ts'
import { hmacSha256 } from '../../app/lib/crypto.ts'

const alert = (status: Alert['status']) => ({ id: 'a1', status, silenced: false }) as Alert

describe('backoff', () => {
  it('waits 5 s, 15 s, 30 s, 1 m, … and at most 1 h', () => {
    expect([1, 2, 3, 4].map(backoff)).toEqual([5_000, 15_000, 30_000, 60_000])
    expect(backoff(MAX_ATTEMPTS)).toBe(3_600_000)
    for (let n = 1; n < 50; n++) expect(backoff(n + 1)).toBeGreaterThanOrEqual(backoff(n))
  })
})

describe('kindOf: which transitions are notified', () => {
  const t = (before: Alert | null, after: Alert, types: string[]) =>
    kindOf({ before, after, at: 0, events: types.map((type) => ({ type, actor: 'x' })) } as Parameters<
      typeof kindOf
    >[0])
  it('fired, acknowledged, resolved from firing; not a pending that resolves, not a repeat', () => {
    expect(t(null, alert('firing'), ['created', 'fired'])).toBe('fired')
    expect(t(alert('firing'), alert('acknowledged'), ['acked'])).toBe('acknowledged')
    expect(t(alert('acknowledged'), alert('resolved'), ['resolved'])).toBe('resolved')
    expect(t(alert('pending'), alert('resolved'), ['resolved'])).toBeNull()
    expect(t(alert('firing'), alert('firing'), ['repeated'])).toBeNull()
    expect(t(alert('firing'), alert('firing'), [])).toBeNull()
  })
  it('a firing alert whose silence ended is notified; an acknowledged one is not', () => {
    expect(t(alert('firing'), alert('firing'), ['unsilenced'])).toBe('fired')
    expect(t(alert('acknowledged'), alert('acknowledged'), ['unsilenced'])).toBeNull()
  })
})

describe('severity floor', () => {
  it('orders info < warning < error < critical', () => {
    expect(atLeast('critical', 'error')).toBe(true)
    expect(atLeast('warning', 'error')).toBe(false)
    expect(atLeast('info', null)).toBe(true)
  })
})

describe('payloads', () => {
  const snap = {
    id: 'a1',
    fingerprint: 'fp1',
    status: 'resolved',
    severity: 'error',
    title: 'x',
    labels: {},
    annotations: {},
    url: 'u',
    ackUrl: 'v',
    source: 'api',
  } as unknown as AlertSnapshot
  it('the webhook body is version 1 with the first alert and the list', () => {
    expect(webhookBody({ id: 7, event: 'resolved', alerts: [snap], publicUrl: 'http://h', at: 0 })).toMatchObject({
      version: 1,
      id: '7',
      event: 'resolved',
      alert: snap,
      alerts: [snap],
      homeostat: { url: 'http://h' },
    })
  })
  it('the signature is t=<unix>,v1=HMAC("t.body")', () => {
    expect(signature('s3cret', '{"a":1}', 1_700_000_000_999)).toBe(
      `t=1700000000,v1=${hmacSha256('s3cret', '1700000000.{"a":1}')}`,
    )
  })
  it('PagerDuty: resolve carries only the routing key, action and dedup key', () => {
    expect(pagerDutyEvents({ id: 1, event: 'resolved', alerts: [snap], publicUrl: 'http://h', at: 0 }, 'KEY')).toEqual([
      { routing_key: 'KEY', event_action: 'resolve', dedup_key: 'fp1' },
    ])
  })
})
