import type { Db } from '../db/client.ts'
import { deliveryFor, runNotifications } from '../app/modules/notify/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/**
 * Sends the notification outbox (claims due rows, sends with a timeout, retries with backoff),
 * escalates unacknowledged critical alerts and repeats still-firing ones. Every 2 s (new
 * notifications are also sent right after they are written, see `kick`). It runs
 * apart from rule evaluation, so a slow channel never delays it.
 */
export const notificationsJob = ({ db }: { db: Db }): JobDef => ({
  name: 'notifications',
  schedule: '*/2 * * * * *',
  leaseMs: 2 * 60_000,
  quietWhenIdle: true,
  handler: async ({ now, log }) => {
    const deps = deliveryFor(db) // set when the app mounts the notify routes
    if (!deps) return { waiting: 1 }
    return runNotifications({ ...deps, log }, now)
  },
})
