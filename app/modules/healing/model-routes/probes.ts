import { ne } from 'drizzle-orm'
import { modelRoutes, type RouteTarget } from '../../../../db/schema/healing.ts'
import { type OutboundPolicy, outboundFetch } from '../../../lib/outbound.ts'
import { failureReason, inPool } from '../../components/index.ts'
import { targetBreakerKey, type Transition } from '../breakers/breakers.ts'
import type { HealingCtx } from '../types.ts'

/**
 * One probe: GET host+path under the outbound policy with a timeout; a 2xx is a success, anything
 * else (or no answer) a failure. The stored reason never tells a closed port from a silent one
 * (that would make probes a port scanner): it is the helper's generic message.
 */
export async function probeTarget(
  outbound: OutboundPolicy,
  t: RouteTarget,
  path: string,
  timeoutMs: number,
): Promise<{ ok: boolean; error?: string }> {
  try {
    const res = await outboundFetch(outbound, t.host + path, {
      timeoutMs,
      headers: { 'user-agent': 'Homeostat-Probe/1.0', accept: 'application/json' },
      maxRedirects: 0,
      // Only the status matters.
      maxBytes: 0,
    })
    return res.status >= 200 && res.status < 300 ? { ok: true } : { ok: false, error: `status ${res.status}` }
  } catch (error) {
    return { ok: false, error: failureReason(error) }
  }
}

/** Probes in flight at once (every target of a usual fleet at the same time). */
export const PROBE_CONCURRENCY = 64

export type ProbeDeps = Pick<HealingCtx, 'db' | 'breakers' | 'modelRoutes' | 'outbound'> & {
  timeoutMs: number
  onOpen?: (key: string, transition: Transition) => void
}

/**
 * One tick of the probe job at `now`: every distinct target of every route that has a probe path is
 * probed once (up to PROBE_CONCURRENCY at a time), and the outcome goes to its breaker
 * (`model:<host>/<model>`). A breaker that opens calls `onOpen` (the job kicks the healing job with it, so failover is
 * immediate). Then routes away from their primary fail back when it has been healthy long enough.
 */
export async function runProbes(deps: ProbeDeps, now: number) {
  const { db } = deps
  const routes = await db
    .select({ targets: modelRoutes.targets, probePath: modelRoutes.probePath })
    .from(modelRoutes)
    .where(ne(modelRoutes.probePath, ''))
  const byKey = new Map<string, { target: RouteTarget; path: string }>()
  for (const r of routes)
    for (const t of r.targets)
      if (!byKey.has(targetBreakerKey(t))) byKey.set(targetBreakerKey(t), { target: t, path: r.probePath })
  const counts = { probed: 0, ok: 0, failed: 0, opened: 0, closed: 0, failedBack: 0 }
  await inPool([...byKey], PROBE_CONCURRENCY, async ([key, { target, path }]) => {
    const outcome = await probeTarget(deps.outbound, target, path, deps.timeoutMs)
    counts.probed++
    counts[outcome.ok ? 'ok' : 'failed']++
    const { transition } = await deps.breakers.report(key, outcome, now)
    if (transition?.to === 'OPEN') {
      counts.opened++
      deps.onOpen?.(key, transition)
    }
    if (transition?.to === 'CLOSED') counts.closed++
  })
  counts.failedBack = await deps.modelRoutes.runFailbacks(now)
  return counts
}
