/**
 * Sending one notification (possibly a group of alerts) to one channel or subscription: the
 * versioned webhook body and its signature, Slack blocks, PagerDuty Events API v2, n8n, email.
 * Every HTTP send goes through the outbound helper (policy, timeout, byte cap); failures throw a
 * SendError carrying what the far end answered (cut short: it is shown to operators only).
 */
import type { Alert } from '../../../db/schema/alerts.ts'
import type { Channel } from '../../../db/schema/notify.ts'
import { hmacSha256, type Sealer } from '../../lib/crypto.ts'
import { OutboundError, type OutboundPolicy, outboundAddress, outboundFetch } from '../../lib/outbound.ts'
import { toIso } from '../../lib/time.ts'
import { openChannel, type Settings } from './channels.ts'

export const WEBHOOK_VERSION = 1
export const SEND_TIMEOUT_MS = 10_000

/** What an alert looks like in every notification (and in the outbox row's payload). */
export function alertSnapshot(a: Alert, publicUrl: string) {
  return {
    id: a.id,
    fingerprint: a.fingerprint,
    status: a.status,
    silenced: a.silenced,
    severity: a.severity,
    title: a.title,
    source: a.source,
    ruleId: a.ruleId,
    labels: a.labels,
    annotations: a.annotations,
    value: a.value,
    startsAt: toIso(a.startsAt),
    endsAt: toIso(a.endsAt),
    ackBy: a.ackBy,
    ackAt: toIso(a.ackAt),
    repeatCount: a.repeatCount,
    url: `${publicUrl}/alerts/${a.id}`,
    ackUrl: `${publicUrl}/alerts/${a.id}?action=acknowledge`,
  }
}
export type AlertSnapshot = ReturnType<typeof alertSnapshot>

/** A send: the event, the alerts it is about (one, or a group), and where it comes from. */
export type Message = {
  id: number | string
  event: string
  alerts: AlertSnapshot[]
  groupKey?: string | null
  publicUrl: string
  at: number
  /** An event that is not about an alert (run.escalated, run.decided): what it is about. */
  data?: Record<string, unknown>
}
export type SendResult = { code: number | string; response: string }

export class SendError extends Error {
  constructor(
    message: string,
    readonly response?: string,
  ) {
    super(message)
  }
}

/** The documented webhook body, version 1. */
export function webhookBody(m: Message) {
  return {
    version: WEBHOOK_VERSION,
    id: String(m.id),
    event: m.event,
    sentAt: new Date(m.at).toISOString(),
    groupKey: m.groupKey ?? null,
    alert: m.alerts[0] ?? null,
    alerts: m.alerts,
    ...(m.data ? { data: m.data } : {}),
    homeostat: { url: m.publicUrl },
  }
}

/** `X-Homeostat-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const signature = (secret: string, body: string, at: number) => {
  const t = Math.floor(at / 1000)
  return `t=${t},v1=${hmacSha256(secret, `${t}.${body}`)}`
}

const clip = (s: string, n = 500) => (s.length > n ? `${s.slice(0, n)}…` : s)

/** Bytes of a reply kept: enough for an error message, never a whole page from wherever the URL points. */
const REPLY_BYTES = 4096

async function post(
  outbound: OutboundPolicy,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<SendResult> {
  let text: string
  let status: number
  try {
    // No redirects: a channel URL is where the notification goes, not a hint (and a redirect
    // would have to resend the signed body elsewhere).
    const res = await outboundFetch(outbound, url, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'homeostat', ...headers },
      timeoutMs,
      maxBytes: REPLY_BYTES,
      maxRedirects: 0,
    })
    status = res.status
    text = clip(res.text())
  } catch (error) {
    // The helper's messages say only "refused by the outbound policy", "timed out" or "could not
    // reach the destination"; the URL may hold a token, so name only its host.
    const why = error instanceof OutboundError ? error.message : String((error as Error)?.message ?? error)
    throw new SendError(`request to ${hostOf(url)} failed: ${why}`)
  }
  const ok = status >= 200 && status < 300
  if (!ok) throw new SendError(`HTTP ${status}`, `${status} ${text}`.trim())
  return { code: status, response: `${status} ${text}`.trim() }
}

const hostOf = (url: string) => (URL.canParse(url) ? new URL(url).host : 'an invalid URL')

const sevEmoji: Record<string, string> = {
  critical: ':red_circle:',
  error: ':large_orange_circle:',
  warning: ':large_yellow_circle:',
  info: ':large_blue_circle:',
}
const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, val]) => `\`${k}=${val}\``)
    .join(' ') || '(none)'

/** Slack incoming-webhook blocks: severity, summary, labels, dashboard and ack links. */
export function slackBody(m: Message) {
  const head = m.alerts[0]!
  const verb =
    {
      fired: 'Firing',
      resolved: 'Resolved',
      acknowledged: 'Acknowledged',
      repeated: 'Still firing',
      escalated: 'Escalated',
      test: 'Test',
    }[m.event] ?? m.event
  const blocks: unknown[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`${verb}: ${head.title}${m.alerts.length > 1 ? ` (+${m.alerts.length - 1} more)` : ''}`, 150),
      },
    },
  ]
  for (const a of m.alerts.slice(0, 10)) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: clip(
          `${sevEmoji[a.severity] ?? ''} *${a.severity.toUpperCase()}* · ${a.title}\n${a.annotations.summary ?? a.annotations.description ?? ''}\n*Labels:* ${labelText(a.labels)}`,
          2900,
        ),
      },
    })
    blocks.push({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Open in Homeostat' }, url: a.url },
        ...(a.status === 'firing'
          ? [{ type: 'button', text: { type: 'plain_text', text: 'Acknowledge' }, url: a.ackUrl, style: 'primary' }]
          : []),
      ],
    })
  }
  return { text: `${verb}: ${head.title} (${head.severity})`, blocks }
}

const pdSeverity: Record<string, string> = { critical: 'critical', error: 'error', warning: 'warning', info: 'info' }

/** PagerDuty Events API v2: one event per alert, dedup_key = the alert's fingerprint. */
export function pagerDutyEvents(m: Message, routingKey: string) {
  const action = m.event === 'resolved' ? 'resolve' : m.event === 'acknowledged' ? 'acknowledge' : 'trigger'
  return m.alerts.map((a) => ({
    routing_key: routingKey,
    event_action: action,
    dedup_key: a.fingerprint,
    ...(action === 'trigger'
      ? {
          payload: {
            summary: clip(a.title, 1000),
            source: a.labels.instance ?? a.labels.component ?? a.source,
            severity: pdSeverity[a.severity],
            timestamp: a.startsAt ?? undefined,
            custom_details: { labels: a.labels, annotations: a.annotations, value: a.value },
          },
          links: [{ href: a.url, text: 'Open in Homeostat' }],
          client: 'Homeostat',
          client_url: a.url,
        }
      : {}),
  }))
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!)

export function emailBody(m: Message) {
  const head = m.alerts[0]!
  const subject = clip(
    `[${head.severity.toUpperCase()}] ${m.event}: ${head.title}${m.alerts.length > 1 ? ` (+${m.alerts.length - 1})` : ''}`,
    200,
  )
  const text = m.alerts
    .map((a) =>
      [
        `${a.severity.toUpperCase()} ${m.event}: ${a.title}`,
        a.annotations.summary ?? '',
        a.annotations.description ?? '',
        `Labels: ${Object.entries(a.labels)
          .map(([k, val]) => `${k}=${val}`)
          .join(', ')}`,
        `Open: ${a.url}`,
        a.status === 'firing' ? `Acknowledge: ${a.ackUrl}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    )
    .join('\n\n')
  const html = m.alerts
    .map(
      (a) =>
        `<h2>${esc(`${a.severity.toUpperCase()} ${m.event}: ${a.title}`)}</h2>${a.annotations.summary ? `<p>${esc(a.annotations.summary)}</p>` : ''}<table>${Object.entries(
          a.labels,
        )
          .map(([k, val]) => `<tr><th align="left">${esc(k)}</th><td>${esc(val)}</td></tr>`)
          .join(
            '',
          )}</table><p><a href="${esc(a.url)}">Open in Homeostat</a>${a.status === 'firing' ? ` · <a href="${esc(a.ackUrl)}">Acknowledge</a>` : ''}</p>`,
    )
    .join('<hr>')
  return { subject, text, html: `<!doctype html><html><body>${html}</body></html>` }
}

async function sendEmail(outbound: OutboundPolicy, s: Settings, m: Message, timeoutMs: number): Promise<SendResult> {
  const host = s.host as string
  const port = s.port as number
  let address: string
  try {
    // The SMTP host is as user-configured as any URL: the same policy decides, before any connection.
    address = (await outboundAddress(outbound, host, port, timeoutMs)).address
  } catch (error) {
    const why = error instanceof OutboundError ? error.message : String((error as Error)?.message ?? error)
    throw new SendError(`SMTP to ${host} failed: ${why}`)
  }
  // Loaded on the first email only: nodemailer is ≈ 7 MB of resident memory a server without an
  // email channel never needs.
  const { default: nodemailer } = await import('nodemailer')
  const transport = nodemailer.createTransport({
    // The checked address, so nodemailer never resolves the name again; the name stays for TLS
    // (SNI and the certificate check), so certificates still verify against it.
    host: address,
    port,
    secure: (s.secure as boolean | undefined) ?? false,
    tls: { servername: host },
    auth: s.user ? { user: s.user as string, pass: (s.password as string | undefined) ?? '' } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  })
  try {
    const info = await transport.sendMail({
      from: s.from as string,
      to: (s.to as string[]).join(', '),
      ...emailBody(m),
    })
    return { code: 250, response: clip(info.response ?? 'accepted') }
  } catch (error) {
    const e = error as Error & { response?: string; responseCode?: number }
    throw new SendError(e.responseCode ? `SMTP ${e.responseCode}` : `SMTP: ${e.message}`, e.response ?? e.message)
  } finally {
    transport.close()
  }
}

/** Sends a message to a channel. */
export async function sendToChannel(
  deps: { sealer: Sealer; outbound: OutboundPolicy },
  ch: Channel,
  m: Message,
  timeoutMs = SEND_TIMEOUT_MS,
): Promise<SendResult> {
  const { settings: s, signingSecret } = openChannel(deps.sealer, ch)
  switch (ch.type) {
    case 'webhook':
    case 'n8n': {
      const body = JSON.stringify(webhookBody(m))
      const headers = {
        ...((s.headers as Record<string, string> | undefined) ?? {}),
        'X-Homeostat-Event': m.event,
        ...(signingSecret ? { 'X-Homeostat-Signature': signature(signingSecret, body, m.at) } : {}),
      }
      return post(deps.outbound, s.url as string, body, headers, timeoutMs)
    }
    case 'slack':
      return post(deps.outbound, s.webhookUrl as string, JSON.stringify(slackBody(m)), {}, timeoutMs)
    case 'pagerduty': {
      const base = ((s.baseUrl as string | undefined) ?? 'https://events.pagerduty.com').replace(/\/$/, '')
      let last: SendResult = { code: 0, response: '' }
      for (const event of pagerDutyEvents(m, s.routingKey as string))
        last = await post(deps.outbound, `${base}/v2/enqueue`, JSON.stringify(event), {}, timeoutMs)
      return last
    }
    case 'email':
      return sendEmail(deps.outbound, s, m, timeoutMs)
  }
}

/** Sends a message to a webhook subscription (the n8n Trigger node): the webhook body, signed. */
export function sendToSubscription(
  outbound: OutboundPolicy,
  secret: string,
  url: string,
  m: Message,
  timeoutMs = SEND_TIMEOUT_MS,
) {
  const body = JSON.stringify(webhookBody(m))
  return post(
    outbound,
    url,
    body,
    { 'X-Homeostat-Event': m.event, 'X-Homeostat-Signature': signature(secret, body, m.at) },
    timeoutMs,
  )
}

/** A made-up alert for "send test". */
export function testAlert(now: number): Alert {
  return {
    id: 'test',
    fingerprint: 'homeostat-test',
    ruleId: null,
    source: 'test',
    title: 'Test notification from Homeostat',
    status: 'firing',
    silenced: false,
    severity: 'info',
    labels: { alertname: 'HomeostatTest' },
    annotations: { summary: 'If you can read this, the channel works.' },
    value: null,
    startsAt: now,
    activeAt: now,
    endsAt: null,
    lastSeenAt: now,
    repeatCount: 1,
    ackBy: null,
    ackAt: null,
    resolvedBy: null,
    resolvedAt: null,
    createdAt: now,
    updatedAt: now,
  }
}
