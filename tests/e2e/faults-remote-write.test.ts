/**
 * Faults, remote write: Prometheus-style senders keep posting snappy-compressed protobuf
 * WriteRequests while the server is killed with SIGKILL (no graceful shutdown). After a restart on
 * the same database every request that got a 2xx is there, sample for sample; a sample sent again
 * (Prometheus retries what was not acknowledged) is not stored twice.
 */
import { compress } from 'snappyjs'
import { afterAll, describe, expect, it } from 'vitest'
import { WriteRequest } from '../../app/modules/metrics/remote-write.ts'
import { keepSending, restart, startFaultServer } from '../helpers/faults.ts'
import { REMOTE_WRITE_HEADERS } from '../helpers/remote-write.ts'
import { cliKey, killAll } from '../helpers/server.ts'

afterAll(() => killAll())

const SERIES = 50
const T0 = 1_700_000_000_000

/** Request n: SERIES series of `fault_rw`, one sample each, all with value n at T0 + n s. */
function request(n: number) {
  const message = WriteRequest.fromObject({
    timeseries: Array.from({ length: SERIES }, (_, i) => ({
      labels: [
        { name: '__name__', value: 'fault_rw' },
        { name: 'series', value: String(i) },
      ],
      samples: [{ value: n, timestamp: T0 + n * 1000 }],
    })),
  })
  return Buffer.from(compress(WriteRequest.encode(message).finish()))
}

describe('remote write across a hard kill', () => {
  it('keeps every acknowledged WriteRequest, and a retried one is not doubled', async () => {
    const first = await startFaultServer()
    const key = await cliKey(first, 'rw', 'operator', ['ingest'])
    const headers = { ...REMOTE_WRITE_HEADERS, authorization: `Bearer ${key}` }
    const traffic = keepSending(first, 3, (n) =>
      fetch(`${first.url}/api/v1/write`, {
        method: 'POST',
        headers,
        body: request(n),
        signal: AbortSignal.timeout(5000),
      }),
    )
    await traffic.killAfter(30)
    const { acked, unacked } = traffic
    const next = traffic.sent

    const second = await restart(first)
    // What Prometheus does next: resend what was not acknowledged (and, here, two that were).
    const resend = [...unacked, ...acked.slice(0, 2)]
    for (const n of resend) {
      const res = await second.fetch('/api/v1/write', { method: 'POST', headers, body: request(n) })
      expect(res.status, `resend of ${n}`).toBeLessThan(300)
    }
    const viewer = await cliKey(second, 'reader', 'viewer')
    const res = await second.fetch(
      `/api/v1/metrics/export?format=json&name=fault_rw&from=${T0}&to=${T0 + next * 1000 + 1000}`,
      { headers: { authorization: `Bearer ${viewer}` } },
    )
    expect(res.status).toBe(200)
    const rows = (await res.json()) as { value: number }[]
    const stored = new Map<number, number>()
    for (const r of rows) stored.set(r.value, (stored.get(r.value) ?? 0) + 1)
    const wrong = Array.from({ length: next }, (_, n) => n).filter((n) => stored.get(n) !== SERIES)
    expect(acked.length).toBeGreaterThanOrEqual(30)
    // Every request is now stored once per series: the acknowledged ones from before the kill, the
    // rest from the resend, and nothing twice.
    expect(wrong, `requests not stored exactly once per series: ${wrong.join(', ')}`).toEqual([])
  })
})
