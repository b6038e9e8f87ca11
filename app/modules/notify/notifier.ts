/**
 * The notify service, built once by the composition root (app/services.ts) for its database: the
 * routing cache, the outbox hook the alert lifecycle runs, the eager send after an outbox write,
 * and the `notifications` job's tick. Routes, pages, the job and healing notices are handed this
 * one object, so none of them depends on another having run first.
 */
import type { Db } from '../../../db/client.ts'
import { notifications, type WebhookEventName } from '../../../db/schema/notify.ts'
import type { Config } from '../../config.ts'
import type { Sealer } from '../../lib/crypto.ts'
import type { Logger } from '../../lib/logger.ts'
import type { OutboundPolicy } from '../../lib/outbound.ts'
import { type DeliveryDeps, runNotifications, sendDue } from './delivery.ts'
import { createOutboxHook } from './outbox.ts'
import { createRoutingCache } from './policies.ts'

export type NotifierDeps = {
  db: Db
  sealer: Sealer
  config: Pick<Config, 'PUBLIC_URL' | 'JOBS_ENABLED'> & Partial<Pick<Config, 'NOTIFICATION_LEASE_SECONDS'>>
  /** Every send to a channel or subscription URL goes out under this policy. */
  outbound: OutboundPolicy
  log?: Logger
  timeoutMs?: number
  /** Notifications that gave up (see dead.ts); the composition root counts them and raises their alert. */
  onDead?: DeliveryDeps['onDead']
  onDelivered?: DeliveryDeps['onDelivered']
}

/** How long a kick waits, so the outbox write that asked for it has committed (it commits just after the hook returns). */
const KICK_DELAY_MS = 25

export function createNotifier(deps: NotifierDeps) {
  const routing = createRoutingCache(deps.db)
  const delivery: DeliveryDeps = {
    db: deps.db,
    sealer: deps.sealer,
    outbound: deps.outbound,
    publicUrl: deps.config.PUBLIC_URL,
    routing: routing.load,
    log: deps.log,
    timeoutMs: deps.timeoutMs,
    leaseMs: deps.config.NOTIFICATION_LEASE_SECONDS && deps.config.NOTIFICATION_LEASE_SECONDS * 1000,
    onDead: deps.onDead,
    onDelivered: deps.onDelivered,
  }
  // Without jobs (tests, an instance that only serves), nothing is sent between ticks either.
  const eager = deps.config.JOBS_ENABLED
  let kicked: ReturnType<typeof setTimeout> | undefined

  /**
   * Asks for a send shortly after an outbox write instead of waiting for the next tick. Rows it
   * misses are sent by the next tick; claims are atomic, so a kick and a tick never send a row twice.
   */
  function kick() {
    if (!eager || kicked) return
    kicked = setTimeout(() => {
      kicked = undefined
      sendDue(delivery, Date.now()).catch((error) =>
        delivery.log?.error('sending notifications failed', { error: String((error as Error)?.message ?? error) }),
      )
    }, KICK_DELAY_MS)
    kicked.unref?.()
  }

  /**
   * Queues a non-alert event (`registry.*`) for every webhook subscription that asked for it: one
   * outbox row each, sent and retried like alert notifications, signed the same way.
   */
  async function emit(event: WebhookEventName, data: Record<string, unknown>, at: number) {
    const subs = (await routing.load()).subscriptions.filter((s) => s.events.includes(event))
    if (!subs.length) return
    await deps.db.insert(notifications).values(
      subs.map((s) => ({
        subscriptionId: s.id,
        kind: event,
        payload: { event, data },
        status: 'pending' as const,
        nextAttemptAt: at,
        createdAt: at,
      })),
    )
    kick()
  }

  return {
    emit,
    /** What sending needs (the sealer, the public URL, the routing). */
    delivery,
    kick,
    /** One tick of the `notifications` job: escalations and repeats, then every due row sent once. */
    run: (now: number, log?: Logger) => runNotifications(log ? { ...delivery, log } : delivery, now),
    /** The alert lifecycle's hook that writes the outbox rows of a transition. */
    outboxHook: createOutboxHook({ routing: routing.load, kick }),
    /** Channels, policies or subscriptions changed: read them again next time. */
    invalidateRouting: routing.invalidate,
  }
}

export type Notifier = ReturnType<typeof createNotifier>
