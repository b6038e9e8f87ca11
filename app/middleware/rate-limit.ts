import { AppError } from '../lib/errors.ts'

export type Bucket = { perSecond: number; burst: number }

/** Token buckets by key, in memory. Full buckets are forgotten when the map grows large. */
export function createRateLimiter({ perSecond, burst }: Bucket, maxKeys = 50_000) {
  const buckets = new Map<string, { tokens: number; at: number }>()
  return function take(key: string, now = Date.now()) {
    let b = buckets.get(key)
    if (!b) {
      if (buckets.size >= maxKeys) prune(now)
      buckets.set(key, (b = { tokens: burst, at: now }))
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond)
    b.at = now
    if (b.tokens >= 1) {
      b.tokens -= 1
      return
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perSecond))
    throw new AppError(429, 'rate_limited', 'Too many requests; slow down', undefined, {
      'Retry-After': String(retryAfter),
    })
  }

  function prune(now: number) {
    for (const [key, b] of buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) buckets.delete(key)
    if (buckets.size >= maxKeys) buckets.clear()
  }
}
export type RateLimiter = ReturnType<typeof createRateLimiter>
