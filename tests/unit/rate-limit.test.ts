import { describe, expect, it } from 'vitest'
import { AppError } from '../../app/lib/errors.ts'
import { createRateLimiter } from '../../app/middleware/rate-limit.ts'

/** The refusal a take() throws, or null when it passed. */
function attempt(take: (key: string, now?: number) => void, key: string, now: number): AppError | null {
  try {
    take(key, now)
    return null
  } catch (error) {
    expect(error).toBeInstanceOf(AppError)
    return error as AppError
  }
}

describe('token bucket', () => {
  it('allows the burst, then refuses with 429 and Retry-After', () => {
    const take = createRateLimiter({ perSecond: 1, burst: 3 })
    expect([0, 0, 0].map((t) => attempt(take, 'k', t))).toEqual([null, null, null])
    const refused = attempt(take, 'k', 0)!
    expect(refused.status).toBe(429)
    expect(refused.code).toBe('rate_limited')
    expect(refused.headers).toEqual({ 'Retry-After': '1' })
  })

  it('refills at the configured rate, a token at a time', () => {
    const take = createRateLimiter({ perSecond: 2, burst: 1 })
    expect(attempt(take, 'k', 0)).toBeNull()
    expect(attempt(take, 'k', 400)).not.toBeNull() // 0.8 of a token
    expect(attempt(take, 'k', 500)).toBeNull() // 0.8 + 0.2 = 1 token
    expect(attempt(take, 'k', 500)).not.toBeNull()
  })

  it('never holds more than the burst, however long it was idle', () => {
    const take = createRateLimiter({ perSecond: 10, burst: 2 })
    const at = 3_600_000
    expect([at, at, at].map((t) => attempt(take, 'k', t) === null)).toEqual([true, true, false])
  })

  it('Retry-After is the whole seconds until the next token', () => {
    const slow = createRateLimiter({ perSecond: 0.1, burst: 1 }) // a token every 10 s, like a per-minute login limit
    attempt(slow, 'k', 0)
    expect(attempt(slow, 'k', 0)!.headers).toEqual({ 'Retry-After': '10' })
    expect(attempt(slow, 'k', 2_500)!.headers).toEqual({ 'Retry-After': '8' })
    expect(attempt(slow, 'k', 10_000)).toBeNull()
  })

  it('keeps one bucket per key', () => {
    const take = createRateLimiter({ perSecond: 1, burst: 1 })
    expect(attempt(take, 'key:a', 0)).toBeNull()
    expect(attempt(take, 'key:a', 0)).not.toBeNull()
    expect(attempt(take, 'key:b', 0)).toBeNull()
  })

  it('when the map is full it forgets full buckets but keeps the drained ones', () => {
    const take = createRateLimiter({ perSecond: 1, burst: 10 }, 3)
    for (let i = 0; i < 10; i++) attempt(take, 'drained', 0)
    attempt(take, 'b', 0)
    attempt(take, 'c', 0)
    // At 1.5 s b and c are full again, 'drained' holds 1.5 tokens: adding 'd' prunes b and c only.
    expect(attempt(take, 'd', 1_500)).toBeNull()
    expect(attempt(take, 'drained', 1_500)).toBeNull()
    expect(attempt(take, 'drained', 1_500)).not.toBeNull()
  })
})
