import type { Notifier } from '../app/modules/notify/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/**
 * Sends the notification outbox (claims due rows, sends with a timeout, retries with backoff),
 * escalates unacknowledged critical alerts and repeats still-firing ones. Every 2 s (new
 * notifications are also sent right after they are written, see the notifier's `kick`). It runs
 * apart from rule evaluation, so a slow channel never delays it.
 */
export const notificationsJob = ({ notifier }: { notifier: Pick<Notifier, 'run'> }): JobDef => ({
  name: 'notifications',
  schedule: '*/2 * * * * *',
  leaseMs: 2 * 60_000,
  quietWhenIdle: true,
  handler: ({ now, log }) => notifier.run(now, log),
})
