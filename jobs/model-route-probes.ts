import { type Healing, runProbes } from '../app/modules/healing/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/** Probe timeout: 80 % of the interval, at most 2 s, so a hanging target never makes ticks overlap. */
export const probeTimeoutMs = (intervalSeconds: number) => Math.min(2000, Math.round(intervalSeconds * 800))

/**
 * Probes model route targets (routes with a probe path) every `intervalSeconds` (1–59), feeding
 * their breakers; a breaker that opens kicks the healing job at once. Also fails routes back to
 * their primary once it has been healthy for the route's failbackAfterMs.
 */
export const modelRouteProbesJob = ({
  healing,
  intervalSeconds,
}: {
  healing: Healing
  intervalSeconds: number
}): JobDef => ({
  name: 'model-route-probes',
  schedule: intervalSeconds === 1 ? '* * * * * *' : `*/${intervalSeconds} * * * * *`,
  leaseMs: 30_000,
  quietWhenIdle: true,
  handler: async ({ now }) => {
    const counts = await runProbes(
      { ...healing, timeoutMs: probeTimeoutMs(intervalSeconds), onOpen: healing.kick },
      now,
    )
    // Healthy probes are the normal case: a tick earns a job_runs row only when something failed or changed.
    return counts.failed + counts.opened + counts.closed + counts.failedBack ? counts : {}
  },
})
