/**
 * Issue 16, "Secrets stay secret": every sealed value is bound to its row and field (AAD). Each
 * site round-trips; a sealed value copied into another row does not open there (and is never sent);
 * a database written before binding (values sealed without AAD, v2, or with the old key, v1) is
 * upgraded by the server at boot, once, and every secret still works after it.
 */
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { boot } from '../../app/boot.ts'
import { createSealer } from '../../app/lib/crypto.ts'
import { SECRETS_BOUND_KEY } from '../../app/secrets-upgrade.ts'
import { users } from '../../db/schema/auth.ts'
import { components } from '../../db/schema/components.ts'
import { healingActions, healingRules, n8nInstances } from '../../db/schema/healing.ts'
import { channels, webhookSubscriptions } from '../../db/schema/notify.ts'
import { settings } from '../../db/schema/system.ts'
import { TEST_SECRET_KEY, testApp, type TestApp } from '../helpers/app.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

const rx = await startReceiver()
const apps: TestApp[] = []
afterAll(async () => {
  for (const t of apps) {
    await t.services.healing.settle()
    t.close()
  }
  await rx.close()
})

const TOKEN = 'hook-token-5b1e0c'

/** A value sealed as versions before binding wrote it: AES-256-GCM without AAD, v2 (HKDF key) or v1. */
function unbound(plain: string, version: 'v1' | 'v2') {
  const key =
    version === 'v2'
      ? Buffer.from(hkdfSync('sha256', TEST_SECRET_KEY, 'homeostat', 'homeostat seal v2', 32))
      : createHash('sha256').update(`homeostat:seal:${TEST_SECRET_KEY}`).digest()
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
  return [version, iv, cipher.getAuthTag(), data]
    .map((x) => (typeof x === 'string' ? x : x.toString('base64url')))
    .join('.')
}

/** One of everything that holds a sealed value, made through the API. */
async function seed(t: TestApp, tag: string) {
  const op = await t.key('operator')
  const admin = await t.key('admin')
  const created = async (path: string, body: unknown, headers = op.headers) => {
    const res = await t.json('POST', path, body, headers)
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201)
    return (await res.json()) as Record<string, unknown> & { id: string }
  }
  const channel = await created('/api/v1/channels', {
    name: `hook-${tag}`,
    type: 'webhook',
    settings: { url: `${rx.url}/channel-${tag}`, headers: { 'X-Token': TOKEN } },
  })
  const subscription = await created('/api/v1/webhooks', { url: `${rx.url}/sub-${tag}`, events: ['fired'] })
  const n8n = await created(
    '/api/v1/healing/n8n-instances',
    { name: `n8n-${tag}`, baseUrl: 'http://127.0.0.1:9', apiKey: `n8n-key-${tag}-abcdef` },
    admin.headers,
  )
  const component = await created('/api/v1/components', {
    name: `etl-${tag}`,
    kind: 'workflow',
    push: { expectedIntervalSeconds: 3600 },
  })
  const rule = await created('/api/v1/healing/rules', {
    name: `hook-rule-${tag}`,
    trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: tag }] },
    actionType: 'webhook',
    target: 'api',
    params: { url: `${rx.url}/rule-${tag}`, headers: { Authorization: `Bearer ${TOKEN}` } },
    cooldownMs: 0,
  })
  // Waits for approval: its headers are sealed in the action's own row until it runs.
  const action = await created('/api/v1/healing/actions', {
    type: 'webhook',
    target: 'api',
    requiresApproval: true,
    params: { url: `${rx.url}/action-${tag}`, headers: { 'X-Key': TOKEN } },
  })
  return {
    op,
    admin,
    channel,
    subscription,
    n8n,
    component,
    rule,
    action,
    pushToken: String((component.push as { token: string }).token),
    subscriptionSecret: String(subscription.secret),
  }
}
type Seeded = Awaited<ReturnType<typeof seed>>

/** Every sealed value of the seeded rows with the AAD it must open with. */
async function sealedValues(t: TestApp, s: Seeded) {
  const [ch] = await t.db.select().from(channels).where(eq(channels.id, s.channel.id))
  const [sub] = await t.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, s.subscription.id))
  const [n] = await t.db.select().from(n8nInstances).where(eq(n8nInstances.id, s.n8n.id))
  const [c] = await t.db.select().from(components).where(eq(components.id, s.component.id))
  const [r] = await t.db.select().from(healingRules).where(eq(healingRules.id, s.rule.id))
  const [a] = await t.db.select().from(healingActions).where(eq(healingActions.id, s.action.id))
  const header = (params: Record<string, unknown>, name: string) =>
    String((params.headers as Record<string, string>)[name]).replace(/^sealed:/, '')
  return [
    { aad: `channels:${ch!.id}:secrets`, sealed: ch!.secrets! },
    { aad: `webhook_subscriptions:${sub!.id}:secret`, sealed: sub!.secret },
    { aad: `n8n_instances:${n!.id}:api_key`, sealed: n!.apiKey },
    { aad: `components:${c!.id}:push_token_sealed`, sealed: c!.pushTokenSealed! },
    { aad: `healing_rules:${r!.id}:header:Authorization`, sealed: header(r!.params, 'Authorization') },
    { aad: `healing_actions:${a!.id}:header:X-Key`, sealed: header(a!.params, 'X-Key') },
  ]
}

/** Every secret in use: channel test, subscription delivery, n8n key shown masked, push token, rule and action headers. */
async function allWork(t: TestApp, s: Seeded, tag: string) {
  rx.clear()
  const tested = (await (await t.json('POST', `/api/v1/channels/${s.channel.id}/test`, {}, s.op.headers)).json()) as {
    ok: boolean
  }
  expect(tested.ok).toBe(true)
  expect(rx.on(`/channel-${tag}`)[0]?.headers['x-token']).toBe(TOKEN)

  const alert = { title: 'down', severity: 'error', status: 'firing', labels: { case: tag } }
  expect((await t.json('POST', '/api/v1/alerts', alert, s.op.headers)).status).toBeLessThan(300)
  await t.services.notifier.run(Date.now())
  const [delivered] = rx.on(`/sub-${tag}`)
  expect(delivered, 'subscription delivery').toBeDefined()
  expect(verify(delivered!.headers['x-homeostat-signature'], delivered!.body, s.subscriptionSecret)).toBe(true)

  const listed = (await (
    await t.app.request('/api/v1/healing/n8n-instances', { headers: s.admin.headers })
  ).json()) as {
    items: { id: string; apiKey: string }[]
  }
  expect(listed.items.find((i) => i.id === s.n8n.id)?.apiKey).toBe(`n8n-${'•'.repeat(8)}`)

  const comp = (await (
    await t.app.request(`/api/v1/components/${s.component.id}`, { headers: s.op.headers })
  ).json()) as {
    push: { token?: string }
  }
  expect(comp.push.token).toBe(s.pushToken)

  expect((await t.json('POST', `/api/v1/healing/actions/${s.action.id}/approve`, {}, s.op.headers)).status).toBe(200)
  await t.services.healing.tick(Date.now())
  await t.services.healing.settle()
  // The rule's run was queued by the first tick (its alert arrived before): the next one runs it.
  await t.services.healing.tick(Date.now() + 1000)
  await t.services.healing.settle()
  expect(rx.on(`/rule-${tag}`)[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`)
  expect(rx.on(`/action-${tag}`)[0]?.headers['x-key']).toBe(TOKEN)
}

describe('each sealed value is bound to its row and field', () => {
  it('round-trips at every site, and opens only with its own row and field', async () => {
    const t = await testApp()
    apps.push(t)
    const s = await seed(t, 'fresh')
    const values = await sealedValues(t, s)
    for (const { aad, sealed } of values) {
      expect(sealed, aad).toMatch(/^v2\./)
      expect(() => t.sealer.open(sealed, aad), aad).not.toThrow()
      expect(() => t.sealer.open(sealed, aad.replace(/:[^:]+:/, ':another-row:')), aad).toThrow()
      expect(() => t.sealer.openUnbound(sealed), aad).toThrow()
    }
    await allWork(t, s, 'fresh')
  })

  it('a sealed value copied into another row does not open there, and nothing is sent with it', async () => {
    const t = await testApp()
    apps.push(t)
    const a = await seed(t, 'a')
    const b = await seed(t, 'b')
    const [chA] = await t.db.select().from(channels).where(eq(channels.id, a.channel.id))
    await t.db.update(channels).set({ secrets: chA!.secrets }).where(eq(channels.id, b.channel.id))
    const [nA] = await t.db.select().from(n8nInstances).where(eq(n8nInstances.id, a.n8n.id))
    await t.db.update(n8nInstances).set({ apiKey: nA!.apiKey }).where(eq(n8nInstances.id, b.n8n.id))
    const [cA] = await t.db.select().from(components).where(eq(components.id, a.component.id))
    await t.db.update(components).set({ pushTokenSealed: cA!.pushTokenSealed }).where(eq(components.id, b.component.id))
    const [rA] = await t.db.select().from(healingRules).where(eq(healingRules.id, a.rule.id))
    await t.db.update(healingRules).set({ params: rA!.params }).where(eq(healingRules.id, b.rule.id))
    rx.clear()

    // The channel: listed without its secrets, and a test sends nothing.
    const shown = (await (
      await t.app.request(`/api/v1/channels/${b.channel.id}`, { headers: b.op.headers })
    ).json()) as {
      secretsUnreadable?: boolean
      settings: Record<string, unknown>
    }
    expect(shown.secretsUnreadable).toBe(true)
    expect(shown.settings.headers).toBeUndefined()
    const tested = (await (await t.json('POST', `/api/v1/channels/${b.channel.id}/test`, {}, b.op.headers)).json()) as {
      ok: boolean
      error: string
    }
    expect(tested).toMatchObject({ ok: false })
    expect(tested.error).toContain('cannot be opened')
    expect(rx.requests).toEqual([])

    // The n8n key and the push token: not shown.
    const listed = (await (
      await t.app.request('/api/v1/healing/n8n-instances', { headers: b.admin.headers })
    ).json()) as {
      items: { id: string; apiKey: string }[]
    }
    expect(listed.items.find((i) => i.id === b.n8n.id)?.apiKey).toBe('(unreadable)')
    const comp = (await (
      await t.app.request(`/api/v1/components/${b.component.id}`, { headers: b.op.headers })
    ).json()) as {
      push: { token?: string }
    }
    expect(comp.push.token).toBeUndefined()

    // The rule now holds rule a's header (and URL): its run fails instead of sending it.
    const alert = { title: 'down', severity: 'error', status: 'firing', labels: { case: 'b' } }
    expect((await t.json('POST', '/api/v1/alerts', alert, b.op.headers)).status).toBeLessThan(300)
    await t.services.healing.tick(Date.now())
    await t.services.healing.settle()
    const [run] = await t.db.select().from(healingActions).where(eq(healingActions.ruleId, b.rule.id))
    expect(run?.status).toBe('FAILED')
    expect(run?.reason).toContain('params.headers.Authorization cannot be opened')
    expect(rx.on('/rule-a')).toEqual([])

    // Under another header name in its own row, a value does not open either.
    const [own] = await t.db.select().from(healingRules).where(eq(healingRules.id, a.rule.id))
    const h = own!.params.headers as Record<string, string>
    expect(() => t.sealer.open(h.Authorization!.slice(7), `healing_rules:${a.rule.id}:header:X-Other`)).toThrow()
  })
})

describe('a database written before binding', () => {
  it('is upgraded at boot, once: every value bound, every secret still works', async () => {
    const t = await testApp()
    apps.push(t)
    const s = await seed(t, 'old')
    const other = await seed(t, 'foreign')
    // Write every value back as older versions did: half v2 without AAD, half v1.
    const values = await sealedValues(t, s)
    const old = values.map(({ aad, sealed }, i) => unbound(t.sealer.open(sealed, aad), i % 2 ? 'v1' : 'v2'))
    const [ch, sub, n8n, comp, ruleHeader, actionHeader] = old as [string, string, string, string, string, string]
    await t.db.update(channels).set({ secrets: ch }).where(eq(channels.id, s.channel.id))
    await t.db.update(webhookSubscriptions).set({ secret: sub }).where(eq(webhookSubscriptions.id, s.subscription.id))
    await t.db.update(n8nInstances).set({ apiKey: n8n }).where(eq(n8nInstances.id, s.n8n.id))
    await t.db.update(components).set({ pushTokenSealed: comp }).where(eq(components.id, s.component.id))
    const setHeader = (name: string, val: string) => sql`json_set(params, ${`$.headers.${name}`}, ${`sealed:${val}`})`
    await t.db
      .update(healingRules)
      .set({ params: setHeader('Authorization', ruleHeader) as never })
      .where(eq(healingRules.id, s.rule.id))
    await t.db
      .update(healingActions)
      .set({ params: setHeader('X-Key', actionHeader) as never })
      .where(eq(healingActions.id, s.action.id))
    // A value sealed with another SECRET_KEY: left as it is, and the boot goes on.
    const foreign = createSealer('another-secret-key-that-is-long-enough').seal(
      'x',
      `channels:${other.channel.id}:secrets`,
    )
    await t.db.update(channels).set({ secrets: foreign }).where(eq(channels.id, other.channel.id))
    // Before the upgrade, the unbound values do not open where they are.
    for (const [i, { aad }] of values.entries()) expect(() => t.sealer.open(old[i]!, aad)).toThrow()

    const env = {
      DATABASE_URL: t.config.DATABASE_URL,
      DATA_DIR: t.dir,
      SECRET_KEY: TEST_SECRET_KEY,
      LOG_LEVEL: 'silent',
    }
    const first = await boot(env, { quiet: true })
    first.client.close()

    const after = await sealedValues(t, s)
    for (const { aad, sealed } of after) {
      expect(sealed, aad).toMatch(/^v2\./)
      expect(() => t.sealer.open(sealed, aad), aad).not.toThrow()
    }
    const [unreadable] = await t.db.select().from(channels).where(eq(channels.id, other.channel.id))
    expect(unreadable!.secrets).toBe(foreign)
    const [marker] = await t.db.select().from(settings).where(eq(settings.key, SECRETS_BOUND_KEY))
    expect(marker?.value).toMatchObject({ upgraded: 6, unreadable: 1 })

    // Once: a second boot changes nothing (and would change nothing without the marker either).
    const again = await boot(env, { quiet: true })
    again.client.close()
    expect(await sealedValues(t, s)).toEqual(after)
    await t.db.delete(settings).where(eq(settings.key, SECRETS_BOUND_KEY))
    const third = await boot(env, { quiet: true })
    third.client.close()
    expect(await sealedValues(t, s)).toEqual(after)

    await allWork(t, s, 'old')
  })

  it('a two-factor secret is part of it (users.totp_secret)', async () => {
    const t = await testApp()
    apps.push(t)
    const u = await t.user('viewer')
    await t.db
      .update(users)
      .set({ totpSecret: unbound('JBSWY3DPEHPK3PXP', 'v2') })
      .where(eq(users.id, u.id))
    const booted = await boot(
      { DATABASE_URL: t.config.DATABASE_URL, DATA_DIR: t.dir, SECRET_KEY: TEST_SECRET_KEY, LOG_LEVEL: 'silent' },
      { quiet: true },
    )
    booted.client.close()
    const [row] = await t.db.select().from(users).where(eq(users.id, u.id))
    expect(t.sealer.open(row!.totpSecret!, `users:${u.id}:totp_secret`)).toBe('JBSWY3DPEHPK3PXP')
  })
})

describe('healing header values sent already sealed', () => {
  it('are refused at input (400 naming params.headers.<name>); masked values kept by an edit still pass', async () => {
    const t = await testApp()
    apps.push(t)
    const s = await seed(t, 'input')
    // A ciphertext the caller found somewhere, with the server's marker: never stored, never opened.
    const [stored] = await t.db.select().from(healingRules).where(eq(healingRules.id, s.rule.id))
    const lifted = (stored!.params.headers as Record<string, string>).Authorization!
    const url = `${rx.url}/rule-input`
    const refused = async (res: Response, field: string) => {
      expect(res.status).toBe(400)
      const body = (await res.json()) as { error: { details: { field: string }[] } }
      expect(body.error.details.map((d) => d.field)).toContain(field)
    }
    await refused(
      await t.json(
        'POST',
        '/api/v1/healing/rules',
        {
          name: 'lifted',
          trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'lifted' }] },
          actionType: 'webhook',
          target: 'api',
          params: { url, headers: { Authorization: lifted } },
        },
        s.op.headers,
      ),
      'params.headers.Authorization',
    )
    await refused(
      await t.json(
        'PATCH',
        `/api/v1/healing/rules/${s.rule.id}`,
        { params: { url, headers: { Authorization: 'x', 'X-Extra': 'sealed:v2.a.b.c' } } },
        s.op.headers,
      ),
      'params.headers.X-Extra',
    )
    await refused(
      await t.json(
        'POST',
        '/api/v1/healing/actions',
        { type: 'webhook', target: 'api', params: { url, headers: { 'X-Key': lifted } } },
        s.op.headers,
      ),
      'params.headers.X-Key',
    )
    const page = await t.session('operator')
    const form = await t.app.request('/healing/actions', {
      method: 'POST',
      headers: { ...page.headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: new URLSearchParams({
        type: 'webhook',
        target: 'api',
        params: JSON.stringify({ url, headers: { 'X-Key': lifted } }),
      }),
    })
    expect(form.status).toBe(400)
    expect(await form.text()).toContain('params.headers.X-Key')
    const [unchanged] = await t.db.select().from(healingRules).where(eq(healingRules.id, s.rule.id))
    expect(unchanged!.params).toEqual(stored!.params)

    // The edit form's masked value keeps the stored one (a sealed value, merged back by the server).
    const shown = (await (
      await t.app.request(`/api/v1/healing/rules/${s.rule.id}`, { headers: s.op.headers })
    ).json()) as { params: { headers: Record<string, string> } }
    const kept = await t.json(
      'PATCH',
      `/api/v1/healing/rules/${s.rule.id}`,
      { params: { url, headers: { ...shown.params.headers, 'X-Extra': 'plain' } } },
      s.op.headers,
    )
    expect(kept.status, await kept.clone().text()).toBe(200)
    rx.clear()
    const alert = { title: 'down', severity: 'error', status: 'firing', labels: { case: 'input' } }
    expect((await t.json('POST', '/api/v1/alerts', alert, s.op.headers)).status).toBeLessThan(300)
    await t.services.healing.tick(Date.now())
    await t.services.healing.settle()
    const [sent] = rx.on('/rule-input')
    expect(sent?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(sent?.headers['x-extra']).toBe('plain')
  })
})
