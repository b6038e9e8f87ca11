/**
 * Healing notifications through the alert channels: a rule's start / success / failure /
 * approval notices go into the notification outbox (`notifications` rows without an alert, sent
 * with retries by the `notifications` job), shaped as an alert so every channel type renders them.
 * The dashboard link of the action (and, for approvals, approve/reject links) is in the annotations.
 */
import { inArray } from 'drizzle-orm'
import type { Alert, Severity } from '../../../db/schema/alerts.ts'
import type { HealingAction } from '../../../db/schema/healing.ts'
import { channels, notifications } from '../../../db/schema/notify.ts'
import type { HealingDeps } from './types.ts'

export type NoticeEvent = 'start' | 'success' | 'failure' | 'approval'

export const actionUrl = (publicUrl: string, id: string) => `${publicUrl}/healing/actions/${id}`

const titles: Record<NoticeEvent, string> = {
  start: 'Healing started',
  success: 'Healing succeeded',
  failure: 'Healing failed',
  approval: 'Healing needs approval',
}
const severityOf: Record<NoticeEvent, Severity> = {
  start: 'info',
  success: 'info',
  failure: 'error',
  approval: 'warning',
}

/** An alert-shaped record of a healing event (what channels render). */
export function noticeAlert(
  a: Pick<
    HealingAction,
    'id' | 'actionType' | 'target' | 'ruleId' | 'reason' | 'error' | 'trigger' | 'approvalExpiresAt'
  >,
  event: NoticeEvent | 'notify',
  publicUrl: string,
  at: number,
  extra: { title?: string; summary?: string; severity?: Severity } = {},
): Alert {
  const url = actionUrl(publicUrl, a.id)
  const annotations: Record<string, string> = {
    summary:
      extra.summary ??
      [
        `${a.actionType} on ${a.target}`,
        a.trigger.summary ? `trigger: ${a.trigger.summary}` : '',
        a.error ? `error: ${a.error}` : a.reason ? `reason: ${a.reason}` : '',
      ]
        .filter(Boolean)
        .join(' · '),
    url,
  }
  if (event === 'approval') {
    annotations.approveUrl = `${url}?action=approve`
    annotations.rejectUrl = `${url}?action=reject`
    if (a.approvalExpiresAt) annotations.expiresAt = new Date(a.approvalExpiresAt).toISOString()
    annotations.description = `Approve: ${annotations.approveUrl}\nReject: ${annotations.rejectUrl}`
  }
  return {
    id: a.id,
    fingerprint: `healing-${a.id}`,
    ruleId: null,
    source: 'healing',
    title: extra.title ?? `${event === 'notify' ? 'Healing notice' : titles[event]}: ${a.actionType} on ${a.target}`,
    status: event === 'success' ? 'resolved' : 'firing',
    silenced: false,
    severity: extra.severity ?? (event === 'notify' ? 'warning' : severityOf[event]),
    labels: {
      alertname: 'HomeostatHealing',
      healing_event: event,
      action_type: a.actionType,
      target: a.target,
      ...(a.ruleId ? { healing_rule: a.ruleId } : {}),
    },
    annotations,
    value: null,
    startsAt: a.trigger.at,
    activeAt: a.trigger.at,
    endsAt: event === 'success' ? at : null,
    lastSeenAt: at,
    repeatCount: 1,
    ackBy: null,
    ackAt: null,
    resolvedBy: null,
    resolvedAt: null,
    createdAt: at,
    updatedAt: at,
  }
}

/**
 * Outbox rows for a healing event on the given channels (unknown or disabled channels are left out);
 * the notifier is asked to send them soon rather than at its next tick.
 */
export async function queueNotice(
  deps: Pick<HealingDeps, 'db' | 'delivery'>,
  channelIds: string[],
  alert: Alert,
  event: string,
  at: number,
) {
  const { db } = deps
  if (!channelIds.length) return 0
  const found = await db
    .select({ id: channels.id, enabled: channels.enabled })
    .from(channels)
    .where(inArray(channels.id, channelIds))
  const ids = found.filter((c) => c.enabled).map((c) => c.id)
  if (!ids.length) return 0
  await db.insert(notifications).values(
    ids.map((channelId) => ({
      channelId,
      kind: `healing.${event}`,
      payload: { event: `healing.${event}`, alert },
      status: 'pending' as const,
      nextAttemptAt: at,
      createdAt: at,
    })),
  )
  deps.delivery.kick()
  return ids.length
}
