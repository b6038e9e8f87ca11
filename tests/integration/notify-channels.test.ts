import { SMTPServer } from 'smtp-server'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

const t = await testApp()
const rx = await startReceiver()
afterAll(async () => {
  await rx.close()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')

type Err = { error: { code: string; details: { field: string; message: string }[] } }
type ChannelOut = {
  id: string
  name: string
  type: string
  enabled: boolean
  settings: Record<string, unknown>
  signed: boolean
  signingSecret?: string
}
const post = (path: string, body: unknown, headers = op.headers) => t.json('POST', path, body, headers)
const create = async (body: unknown) => {
  const res = await post('/api/v1/channels', body)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as ChannelOut
}
const fields = async (res: Response) => ((await res.json()) as Err).error.details.map((d) => d.field)

describe('channels: validation', () => {
  it.each([
    ['an unknown type', { name: 'x', type: 'fax', settings: {} }, 'type'],
    ['a webhook without url', { name: 'x', type: 'webhook', settings: {} }, 'settings.url'],
    [
      'a webhook with a non-http url',
      { name: 'x', type: 'webhook', settings: { url: 'ftp://example.com' } },
      'settings.url',
    ],
    [
      'a bad header name',
      { name: 'x', type: 'webhook', settings: { url: 'https://example.com', headers: { 'bad header': 'v' } } },
      'settings.headers',
    ],
    [
      'slack without webhookUrl',
      { name: 'x', type: 'slack', settings: { url: 'https://example.com' } },
      'settings.webhookUrl',
    ],
    [
      'pagerduty with an empty key',
      { name: 'x', type: 'pagerduty', settings: { routingKey: '' } },
      'settings.routingKey',
    ],
    [
      'email without recipients',
      { name: 'x', type: 'email', settings: { host: 'localhost', port: 25, from: 'a@example.com', to: [] } },
      'settings.to',
    ],
    [
      'email with a bad port',
      {
        name: 'x',
        type: 'email',
        settings: { host: 'localhost', port: 70000, from: 'a@example.com', to: ['b@example.com'] },
      },
      'settings.port',
    ],
    ['an unknown field', { name: 'x', type: 'n8n', settings: { url: 'https://example.com' }, colour: 'red' }, 'colour'],
  ])('%s is a 400 naming the field', async (_n, body, field) => {
    const res = await post('/api/v1/channels', body)
    expect(res.status).toBe(400)
    expect((await fields(res)).some((f) => f.startsWith(field))).toBe(true)
  })
})

describe('channels: CRUD with secrets sealed and masked', () => {
  it('creates a webhook channel: the signing secret once, url and header values masked, sealed at rest', async () => {
    const token = 'hook-token-that-is-secret-42'
    const ch = await create({
      name: 'ops webhook',
      type: 'webhook',
      settings: { url: `${rx.url}/hook/${token}`, headers: { 'X-Api-Key': 'header-secret-99' } },
    })
    expect(ch.signingSecret).toMatch(/^whsec_/)
    expect(ch.signed).toBe(true)
    expect(JSON.stringify(ch.settings)).not.toContain(token)
    expect(JSON.stringify(ch.settings)).not.toContain('header-secret-99')
    const read = await t.app.request(`/api/v1/channels/${ch.id}`, { headers: viewer.headers })
    const text = await read.text()
    expect(read.status).toBe(200)
    for (const secret of [token, 'header-secret-99', ch.signingSecret!]) expect(text).not.toContain(secret)
    const list = await (await t.app.request('/api/v1/channels', { headers: viewer.headers })).text()
    for (const secret of [token, 'header-secret-99', ch.signingSecret!]) expect(list).not.toContain(secret)
    const raw = await t.client.execute({ sql: 'select config, secrets from channels where id = ?', args: [ch.id] })
    const row = JSON.stringify(raw.rows[0])
    for (const secret of [token, 'header-secret-99', ch.signingSecret!]) expect(row).not.toContain(secret)
    const audit = await t.client.execute("select summary from audit_log where action like 'channel.%'")
    expect(JSON.stringify(audit.rows)).not.toContain(token)
  })

  it('a viewer reads but cannot write; duplicate names are 409; patch merges and keeps secrets; delete', async () => {
    expect(
      (
        await post(
          '/api/v1/channels',
          { name: 'v', type: 'n8n', settings: { url: 'https://example.com' } },
          viewer.headers,
        )
      ).status,
    ).toBe(403)
    const ch = await create({
      name: 'email ops',
      type: 'email',
      settings: {
        host: '127.0.0.1',
        port: 2525,
        user: 'u',
        password: 'smtp-pass-777',
        from: 'homeostat@example.com',
        to: ['ops@example.com'],
      },
    })
    expect(ch.settings).toMatchObject({
      host: '127.0.0.1',
      port: 2525,
      user: 'u',
      from: 'homeostat@example.com',
      to: ['ops@example.com'],
    })
    expect(ch.settings.password).not.toBe('smtp-pass-777')
    expect(
      (await post('/api/v1/channels', { name: 'email ops', type: 'n8n', settings: { url: 'https://example.com' } }))
        .status,
    ).toBe(409)
    const patched = await t.json(
      'PATCH',
      `/api/v1/channels/${ch.id}`,
      { settings: { port: 2526 }, enabled: false },
      op.headers,
    )
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({ enabled: false, settings: { port: 2526, host: '127.0.0.1' } })
    const bad = await t.json('PATCH', `/api/v1/channels/${ch.id}`, { settings: { port: 'x' } }, op.headers)
    expect(bad.status).toBe(400)
    expect(await fields(bad)).toContain('settings.port')
    expect((await t.app.request(`/api/v1/channels/${ch.id}`, { method: 'DELETE', headers: op.headers })).status).toBe(
      204,
    )
    expect((await t.app.request(`/api/v1/channels/${ch.id}`, { headers: viewer.headers })).status).toBe(404)
  })
})

describe('channels: send test', () => {
  it('webhook: the versioned body, signed with the channel secret, custom headers', async () => {
    const ch = await create({
      name: 'signed hook',
      type: 'webhook',
      settings: { url: `${rx.url}/signed`, headers: { 'X-Team': 'ai' } },
    })
    const res = await post(`/api/v1/channels/${ch.id}/test`, {})
    expect(await res.json()).toMatchObject({ ok: true, code: 200 })
    const [got] = rx.on('/signed')
    expect(got!.headers['x-team']).toBe('ai')
    expect(got!.json).toMatchObject({
      version: 1,
      event: 'test',
      alert: { title: 'Test notification from Homeostat', severity: 'info' },
    })
    expect(verify(got!.headers['x-homeostat-signature'] as string, got!.body, ch.signingSecret!)).toBe(true)
    expect(verify(got!.headers['x-homeostat-signature'] as string, got!.body, 'whsec_wrong')).toBe(false)
  })

  it('slack: blocks with severity, summary, labels, dashboard and ack links', async () => {
    const ch = await create({
      name: 'slack',
      type: 'slack',
      settings: { webhookUrl: `${rx.url}/slack/T000/B000/XXXX` },
    })
    expect((await (await post(`/api/v1/channels/${ch.id}/test`, {})).json()) as object).toMatchObject({ ok: true })
    const body = rx.on('/slack/T000/B000/XXXX')[0]!.json as {
      text: string
      blocks: { type: string; text?: { text: string }; elements?: { url: string }[] }[]
    }
    expect(body.blocks[0]!.type).toBe('header')
    const section = body.blocks.find((b) => b.type === 'section')!.text!.text
    expect(section).toContain('INFO')
    expect(section).toContain('alertname=HomeostatTest')
    const urls = body.blocks.flatMap((b) => b.elements ?? []).map((e) => e.url)
    expect(urls).toContain(`${t.config.PUBLIC_URL}/alerts/test`)
    expect(urls.some((u) => u.includes('action=acknowledge'))).toBe(true)
  })

  it('pagerduty: Events API v2 at the configured base URL', async () => {
    const ch = await create({
      name: 'pd',
      type: 'pagerduty',
      settings: { routingKey: 'R0UTINGKEY', baseUrl: `${rx.url}/pd` },
    })
    expect(ch.settings.baseUrl).toBe(`${rx.url}/pd`)
    expect(ch.settings.routingKey).not.toBe('R0UTINGKEY')
    expect((await (await post(`/api/v1/channels/${ch.id}/test`, {})).json()) as object).toMatchObject({ ok: true })
    expect(rx.on('/pd/v2/enqueue')[0]!.json).toMatchObject({
      routing_key: 'R0UTINGKEY',
      event_action: 'trigger',
      dedup_key: 'homeostat-test',
      payload: { severity: 'info' },
    })
  })

  it('a failing endpoint is reported with its answer, not thrown', async () => {
    const ch = await create({ name: 'n8n down', type: 'n8n', settings: { url: `${rx.url}/n8n-down` } })
    rx.fail(1)
    const out = (await (await post(`/api/v1/channels/${ch.id}/test`, {})).json()) as {
      ok: boolean
      error: string
      response: string
    }
    expect(out).toMatchObject({ ok: false, error: 'HTTP 500' })
    expect(out.response).toContain('receiver down')
    const nobody = await create({
      name: 'nobody',
      type: 'webhook',
      settings: { url: 'http://127.0.0.1:1/path-secret' },
    })
    const out2 = (await (await post(`/api/v1/channels/${nobody.id}/test`, {})).json()) as { ok: boolean; error: string }
    expect(out2.ok).toBe(false)
    expect(out2.error).not.toContain('path-secret')
  })

  it('email: HTML + text through a real SMTP server with auth; a refusal is recorded with its reply', async () => {
    const mails: { from: string; to: string[]; data: string; user?: string }[] = []
    const smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth: (auth, _s, cb) =>
        auth.username === 'mailer' && auth.password === 'smtp-secret'
          ? cb(null, { user: 'mailer' })
          : cb(new Error('Invalid username or password')),
      onRcptTo: (addr, _s, cb) =>
        addr.address.startsWith('refuse')
          ? cb(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }))
          : cb(),
      onData: (stream, session, cb) => {
        let data = ''
        stream.on('data', (c: Buffer) => (data += c.toString()))
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
            user: session.user as string | undefined,
          })
          cb()
        })
      },
      logger: false,
    })
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
    const port = (smtp.server.address() as AddressInfo).port
    try {
      const ch = await create({
        name: 'mail',
        type: 'email',
        settings: {
          host: '127.0.0.1',
          port,
          secure: false,
          user: 'mailer',
          password: 'smtp-secret',
          from: 'homeostat@example.com',
          to: ['ops@example.com'],
        },
      })
      const ok = (await (await post(`/api/v1/channels/${ch.id}/test`, {})).json()) as { ok: boolean; response: string }
      expect(ok.ok).toBe(true)
      expect(mails).toHaveLength(1)
      expect(mails[0]).toMatchObject({ from: 'homeostat@example.com', to: ['ops@example.com'], user: 'mailer' })
      expect(mails[0]!.data).toContain('text/plain')
      expect(mails[0]!.data).toContain('text/html')
      expect(mails[0]!.data).toContain('Test notification from Homeostat')
      const refused = await create({
        name: 'mail refused',
        type: 'email',
        settings: {
          host: '127.0.0.1',
          port,
          user: 'mailer',
          password: 'smtp-secret',
          from: 'homeostat@example.com',
          to: ['refuse@example.com'],
        },
      })
      const out = (await (await post(`/api/v1/channels/${refused.id}/test`, {})).json()) as {
        ok: boolean
        error: string
        response: string
      }
      expect(out).toMatchObject({ ok: false, error: 'SMTP 550' })
      expect(out.response).toContain('Mailbox unavailable')
      const wrongPass = await create({
        name: 'mail bad auth',
        type: 'email',
        settings: {
          host: '127.0.0.1',
          port,
          user: 'mailer',
          password: 'nope',
          from: 'homeostat@example.com',
          to: ['ops@example.com'],
        },
      })
      const out2 = (await (await post(`/api/v1/channels/${wrongPass.id}/test`, {})).json()) as {
        ok: boolean
        error: string
      }
      expect(out2.ok).toBe(false)
      expect(out2.error).toMatch(/SMTP 535/)
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()))
    }
  })
})
