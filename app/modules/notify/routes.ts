import { desc, eq } from 'drizzle-orm'
import { Hono } from 'hono'
import { alerts } from '../../../db/schema/alerts.ts'
import { channels, notifications, type Notification } from '../../../db/schema/notify.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { AppError, conflict, notFound } from '../../lib/errors.ts'
import type { OutboundPolicy } from '../../lib/outbound.ts'
import { describe } from '../../lib/route-meta.ts'
import { clockOf, toIso } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { access, canWrite } from '../../middleware/access.ts'
import { audit } from '../audit/index.ts'
import { channelJson, createChannel, deleteChannel, getChannel, listChannels, updateChannel } from './channels.ts'
import { retryNotification } from './delivery.ts'
import type { Notifier } from './notifier.ts'
import { createPolicy, deletePolicy, getPolicy, listPolicies, policyJson, updatePolicy } from './policies.ts'
import {
  ChannelBody,
  ChannelPatch,
  IdParam,
  NumericIdParam,
  PolicyBody,
  PolicyPatch,
  SubscriptionBody,
} from './schema.ts'
import { alertSnapshot, SendError, sendToChannel, testAlert } from './senders.ts'
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  subscriptionJson,
} from './subscriptions.ts'

const REPLY_CHARS = 1024
/** What a far end answered, for operators: at most REPLY_CHARS characters. */
const clipReply = (s: string) => (s.length > REPLY_CHARS ? `${s.slice(0, REPLY_CHARS)}…` : s)

/** The API shape; the far end's reply only for operators (rows from older versions may hold a body). */
export const notificationJson = (n: Notification & { channelName?: string | null }, operator = false) => ({
  id: n.id,
  alertId: n.alertId,
  channelId: n.channelId,
  channelName: n.channelName ?? null,
  subscriptionId: n.subscriptionId,
  policyId: n.policyId,
  kind: n.kind,
  status: n.status,
  attempts: n.attempts,
  nextAttemptAt: n.status === 'sent' || n.status === 'dead' ? null : toIso(n.nextAttemptAt),
  lastError: n.lastError,
  response: operator && n.response ? clipReply(n.response) : null,
  createdAt: toIso(n.createdAt),
  sentAt: toIso(n.sentAt),
})

export function notifyRoutes(
  deps: ModuleDeps & { notifier: Pick<Notifier, 'invalidateRouting'>; outbound: OutboundPolicy },
) {
  const { db, sealer, config, notifier, outbound } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['notifications']

  app.get(
    '/api/v1/channels',
    access('viewer'),
    describe('List notification channels (secrets masked)', tags),
    async (c) => c.json({ items: (await listChannels(db)).map((ch) => channelJson(sealer, ch)) }),
  )

  app.post(
    '/api/v1/channels',
    access('operator'),
    describe(
      'Create a channel: webhook, slack, pagerduty, n8n or email; a webhook/n8n channel returns its signing secret once',
      tags,
      201,
    ),
    validate('json', ChannelBody),
    async (c) => {
      const { row, signingSecret } = await createChannel({ db, sealer }, c.req.valid('json'), now())
      notifier.invalidateRouting()
      await audit(db, c, { action: 'channel.created', target: row.name, summary: row.type })
      return c.json({ ...channelJson(sealer, row), ...(signingSecret ? { signingSecret } : {}) }, 201)
    },
  )

  app.get(
    '/api/v1/channels/:id',
    access('viewer'),
    describe('A channel (secrets masked)', tags),
    validate('param', IdParam),
    async (c) => c.json(channelJson(sealer, await getChannel(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/channels/:id',
    access('operator'),
    describe(
      'Change a channel; settings merge over the current ones (secrets left out are kept, unless the destination changes: then they are required)',
      tags,
    ),
    validate('param', IdParam),
    validate('json', ChannelPatch),
    async (c) => {
      const before = await getChannel(db, c.req.valid('param').id)
      const row = await updateChannel({ db, sealer }, before, c.req.valid('json'), now())
      notifier.invalidateRouting()
      await audit(db, c, {
        action: 'channel.updated',
        target: row.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json(channelJson(sealer, row))
    },
  )

  app.delete(
    '/api/v1/channels/:id',
    access('operator'),
    describe('Delete a channel (its queued notifications go with it)', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const ch = await getChannel(db, c.req.valid('param').id)
      await deleteChannel(db, ch.id)
      notifier.invalidateRouting()
      await audit(db, c, { action: 'channel.deleted', target: ch.name })
      return c.body(null, 204)
    },
  )

  app.post(
    '/api/v1/channels/:id/test',
    access('operator'),
    describe('Send a test notification through a channel now; replies with what the far end answered', tags),
    validate('param', IdParam),
    async (c) => {
      const ch = await getChannel(db, c.req.valid('param').id)
      const at = now()
      let reply: Record<string, unknown>
      try {
        const r = await sendToChannel({ sealer, outbound }, ch, {
          id: `test-${at}`,
          event: 'test',
          alerts: [alertSnapshot(testAlert(at), config.PUBLIC_URL)],
          publicUrl: config.PUBLIC_URL,
          at,
        })
        reply = { ok: true, code: r.code, response: clipReply(r.response) }
      } catch (error) {
        reply = {
          ok: false,
          // A channel whose secrets do not open says so (an AppError carries no secret); anything else stays vague.
          error: error instanceof SendError || error instanceof AppError ? error.message : 'send failed',
          response: (error as SendError)?.response ? clipReply((error as SendError).response!) : null,
        }
      }
      await audit(db, c, {
        action: 'channel.tested',
        target: ch.name,
        summary: reply.ok ? 'sent' : String(reply.error),
      })
      return c.json(reply)
    },
  )

  app.get(
    '/api/v1/alerts/:id/notifications',
    access('viewer'),
    describe("An alert's notifications per channel: status, attempts, last error, response", tags),
    validate('param', IdParam),
    async (c) => {
      const id = c.req.valid('param').id
      const [found] = await db.select({ id: alerts.id }).from(alerts).where(eq(alerts.id, id))
      if (!found) throw notFound('Alert')
      const rows = await db
        .select({ n: notifications, channelName: channels.name })
        .from(notifications)
        .leftJoin(channels, eq(channels.id, notifications.channelId))
        .where(eq(notifications.alertId, id))
        .orderBy(desc(notifications.id))
        .limit(500)
      const operator = canWrite(c)
      return c.json({
        items: rows.map((r) => notificationJson({ ...r.n, channelName: r.channelName }, operator)),
      })
    },
  )

  app.post(
    '/api/v1/notifications/:id/retry',
    access('operator'),
    describe('Send a notification again now, with a fresh set of attempts', tags),
    validate('param', NumericIdParam),
    async (c) => {
      const id = Number(c.req.valid('param').id)
      const [row] = await db.select().from(notifications).where(eq(notifications.id, id))
      if (!row) throw notFound('Notification')
      if (row.status === 'sending') throw conflict('The notification is being sent right now')
      const updated = await retryNotification(db, id, now())
      if (!updated) throw conflict('The notification is being sent right now')
      await audit(db, c, {
        action: 'notification.retried',
        target: String(id),
        summary: `${row.kind}, was ${row.status}`,
      })
      return c.json(notificationJson(updated, true))
    },
  )

  app.get('/api/v1/webhooks', access('viewer'), describe('List webhook subscriptions', tags), async (c) =>
    c.json({ items: (await listSubscriptions(db)).map(subscriptionJson) }),
  )

  app.post(
    '/api/v1/webhooks',
    access('operator'),
    describe(
      'Subscribe a URL to events {url, events: [fired|resolved|acknowledged|run.escalated|run.decided], minSeverity?}; returns the signing secret once',
      tags,
      201,
    ),
    validate('json', SubscriptionBody),
    async (c) => {
      const { row, secret } = await createSubscription({ db, sealer }, c.req.valid('json'), actor(c), now())
      notifier.invalidateRouting()
      await audit(db, c, { action: 'webhook.subscribed', target: row.id, summary: row.events.join(', ') })
      return c.json({ ...subscriptionJson(row), secret }, 201)
    },
  )

  app.get(
    '/api/v1/webhooks/:id',
    access('viewer'),
    describe('A webhook subscription', tags),
    validate('param', IdParam),
    async (c) => c.json(subscriptionJson(await getSubscription(db, c.req.valid('param').id))),
  )

  app.delete(
    '/api/v1/webhooks/:id',
    access('operator'),
    describe('Unsubscribe', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const s = await getSubscription(db, c.req.valid('param').id)
      await deleteSubscription(db, s.id)
      notifier.invalidateRouting()
      await audit(db, c, { action: 'webhook.unsubscribed', target: s.id })
      return c.body(null, 204)
    },
  )

  app.get('/api/v1/policies', access('viewer'), describe('List notification policies in order', tags), async (c) =>
    c.json({ items: (await listPolicies(db)).map(policyJson) }),
  )

  app.post(
    '/api/v1/policies',
    access('operator'),
    describe('Create a notification policy: matchers → channels, grouping, repeat, continue, escalations', tags, 201),
    validate('json', PolicyBody),
    async (c) => {
      const row = await createPolicy(db, c.req.valid('json'), now())
      notifier.invalidateRouting()
      await audit(db, c, { action: 'policy.created', target: row.name, summary: `${row.channelIds.length} channels` })
      return c.json(policyJson(row), 201)
    },
  )

  app.get(
    '/api/v1/policies/:id',
    access('viewer'),
    describe('A notification policy', tags),
    validate('param', IdParam),
    async (c) => c.json(policyJson(await getPolicy(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/policies/:id',
    access('operator'),
    describe('Change a notification policy', tags),
    validate('param', IdParam),
    validate('json', PolicyPatch),
    async (c) => {
      const before = await getPolicy(db, c.req.valid('param').id)
      const row = await updatePolicy(db, before, c.req.valid('json'), now())
      notifier.invalidateRouting()
      await audit(db, c, {
        action: 'policy.updated',
        target: row.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json(policyJson(row))
    },
  )

  app.delete(
    '/api/v1/policies/:id',
    access('operator'),
    describe('Delete a notification policy', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const p = await getPolicy(db, c.req.valid('param').id)
      await deletePolicy(db, p.id)
      notifier.invalidateRouting()
      await audit(db, c, { action: 'policy.deleted', target: p.name })
      return c.body(null, 204)
    },
  )

  return app
}
