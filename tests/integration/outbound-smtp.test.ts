/**
 * Issue 16, outbound requests: the email channel's SMTP connection goes through the outbound policy
 * like every HTTP call. The host is resolved and checked first (refused: "refused by the outbound
 * policy", and no connection is made); then nodemailer connects to the checked address, naming the
 * host only for TLS (SNI and the certificate check). SMTP servers are smtp-server on 127.0.0.1.
 */
import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import { afterAll, describe, expect, it } from 'vitest'
import { createOutboundPolicy, parseOutboundAllow, type ResolvedAddress } from '../../app/lib/outbound.ts'
import { alertSnapshot, getChannel, SendError, sendToChannel } from '../../app/modules/notify/index.ts'
import { testAlert } from '../../app/modules/notify/senders.ts'
import { testApp } from '../helpers/app.ts'
import { connectsDuring } from '../helpers/connections.ts'
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../helpers/test-tls.ts'

/** An SMTP server on 127.0.0.1 that counts connections and keeps the mails it accepts. */
async function smtpServer(extra: Partial<SMTPServerOptions> = {}) {
  const mails: string[] = []
  let connections = 0
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect: (_s, cb) => {
      connections++
      cb()
    },
    onData: (stream, _s, cb) => {
      let data = ''
      stream.on('data', (c: Buffer) => (data += c.toString()))
      stream.on('end', () => {
        mails.push(data)
        cb()
      })
    },
    ...extra,
  })
  // A client that gives up mid-handshake (the TLS test) is an 'error' event: expected, kept quiet.
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const smtp = await smtpServer()
// Nothing allow-listed: loopback is refused, as in production without OUTBOUND_ALLOW.
const strict = await testApp({ OUTBOUND_ALLOW: '' })
const allowed = await testApp()
afterAll(async () => {
  await smtp.close()
  strict.close()
  allowed.close()
})

type Reply = { ok: boolean; error?: string }
const emailChannel = async (t: typeof strict, name: string, host: string, port = smtp.port) => {
  const res = await t.json(
    'POST',
    '/api/v1/channels',
    { name, type: 'email', settings: { host, port, from: 'homeostat@example.com', to: ['ops@example.com'] } },
    (await t.key('operator')).headers,
  )
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as { id: string }
}
const testSend = async (t: typeof strict, id: string) =>
  (await (await t.json('POST', `/api/v1/channels/${id}/test`, {}, (await t.key('operator')).headers)).json()) as Reply

describe('the email channel under the outbound policy', () => {
  it('refuses a loopback SMTP host without the allow-list: no connection is made', async () => {
    const ch = await emailChannel(strict, 'mail-loopback', '127.0.0.1')
    let reply: Reply = { ok: true }
    const connects = await connectsDuring(async () => {
      reply = await testSend(strict, ch.id)
    })
    expect(connects).toBe(0)
    expect(smtp.connections()).toBe(0)
    expect(reply.ok).toBe(false)
    expect(reply.error).toContain('refused by the outbound policy')
    expect(smtp.mails).toEqual([])
  })

  it('refuses a metadata host name before resolving it', async () => {
    const meta = await emailChannel(strict, 'mail-metadata', 'metadata.google.internal', 25)
    let reply: Reply = { ok: true }
    expect(
      await connectsDuring(async () => {
        reply = await testSend(strict, meta.id)
      }),
    ).toBe(0)
    expect(reply.error).toContain('refused by the outbound policy')
  })

  it('delivers with the allow-list, to the address it checked (a host name resolved once)', async () => {
    const ch = await emailChannel(allowed, 'mail-allowed', 'localhost')
    let reply: Reply = { ok: false }
    // Only the one connection to the local SMTP server goes through.
    const connects = await connectsDuring(async () => {
      reply = await testSend(allowed, ch.id)
    }, 1)
    expect(reply, JSON.stringify(reply)).toMatchObject({ ok: true })
    expect(connects).toBe(1)
    expect(smtp.mails).toHaveLength(1)
    expect(smtp.mails[0]).toContain('Test notification from Homeostat')
  })

  it('TLS to the checked address names the host (SNI) and still verifies its certificate', async () => {
    const names: string[] = []
    const tls = await smtpServer({
      secure: true,
      key: TEST_TLS_KEY,
      cert: TEST_TLS_CERT,
      SNICallback: (name, cb) => {
        names.push(name)
        cb(null)
      },
    })
    try {
      // `svc.test` exists nowhere in DNS: the fixed resolver answers, and only once.
      const asked: string[] = []
      const resolve = async (host: string): Promise<ResolvedAddress[]> => {
        asked.push(host)
        return host === 'svc.test' ? [{ address: '127.0.0.1', family: 4 }] : []
      }
      const outbound = createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow('svc.test') }, resolve)
      const { id } = await emailChannel(allowed, 'mail-tls', 'svc.test', tls.port)
      await allowed.json(
        'PATCH',
        `/api/v1/channels/${id}`,
        { settings: { secure: true } },
        (await allowed.key('operator')).headers,
      )
      const ch = await getChannel(allowed.db, id)
      const at = Date.now()
      const sent = sendToChannel({ sealer: allowed.sealer, outbound }, ch, {
        id: 'tls',
        event: 'test',
        alerts: [alertSnapshot(testAlert(at), allowed.config.PUBLIC_URL)],
        publicUrl: allowed.config.PUBLIC_URL,
        at,
      })
      // The test certificate is self-signed: refused, which shows verification is on; the handshake
      // reached the local server by the checked address and named svc.test (SNI).
      await expect(sent).rejects.toThrow(SendError)
      await expect(sent).rejects.toThrow(/certificate/i)
      expect(asked).toEqual(['svc.test'])
      expect(names).toEqual(['svc.test'])
    } finally {
      await tls.close()
    }
  })
})
