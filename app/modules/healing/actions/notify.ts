import { inArray } from 'drizzle-orm'
import * as v from 'valibot'
import { severities } from '../../../../db/schema/alerts.ts'
import { channels } from '../../../../db/schema/notify.ts'
import { alertSnapshot, SendError, sendToChannel } from '../../notify/index.ts'
import { noticeAlert } from '../notices.ts'
import { ActionError } from '../types.ts'
import { defineAction, text } from './define.ts'

const Params = v.strictObject({
  channelIds: v.pipe(
    v.array(v.pipe(v.string('must be a string'), v.maxLength(100)), 'must be a list of channel ids'),
    v.minLength(1, 'must name at least one channel'),
    v.maxLength(20, 'at most 20 channels'),
  ),
  title: v.optional(text(300)),
  message: v.optional(text(4000)),
  severity: v.optional(v.picklist(severities, `must be one of ${severities.join(', ')}`)),
})
type P = v.InferOutput<typeof Params>

/** A notification through alert channels, sent now (the action's retries cover failed sends). For rules that only escalate. */
export const notify = defineAction<P>({
  type: 'notify',
  describe: 'Send a notification through alert channels (for rules that only escalate)',
  targetIs: 'what the notification is about (free text)',
  paramsSchema: Params,
  async check(deps, _target, params) {
    const found = await deps.db
      .select({ id: channels.id })
      .from(channels)
      .where(inArray(channels.id, params.channelIds))
    const missing = params.channelIds.filter((id) => !found.some((f) => f.id === id))
    return missing.length
      ? { field: 'params.channelIds', message: `no channel with id ${missing.join(', ')}` }
      : undefined
  },
  canHandle: () => true,
  async execute({ deps, action, params, target, now }) {
    const rows = await deps.db.select().from(channels).where(inArray(channels.id, params.channelIds))
    if (!rows.length) throw new ActionError('none of the channels exists', false)
    const at = now()
    const alert = noticeAlert(action, 'notify', deps.config.PUBLIC_URL, at, {
      title: params.title ?? `Healing notice: ${target}`,
      summary: params.message,
      severity: params.severity,
    })
    const results: Record<string, unknown>[] = []
    const failed: string[] = []
    for (const ch of rows) {
      try {
        const r = await sendToChannel(deps, ch, {
          id: `healing-${action.id}-${action.attempt}`,
          event: 'healing.notify',
          alerts: [alertSnapshot(alert, deps.config.PUBLIC_URL)],
          publicUrl: deps.config.PUBLIC_URL,
          at,
        })
        results.push({ channel: ch.name, code: r.code })
      } catch (error) {
        failed.push(ch.name)
        results.push({
          channel: ch.name,
          error: error instanceof SendError ? error.message : String((error as Error)?.message ?? error),
        })
      }
    }
    if (failed.length) throw new ActionError(`sending failed on ${failed.join(', ')}`, true, { results })
    return { results }
  },
})
