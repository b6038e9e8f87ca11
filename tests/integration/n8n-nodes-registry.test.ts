/**
 * The n8n nodes and the prompt registry, against the real app on a loopback port through the n8n
 * context harness: the Heal node's Get Prompt (label, variables, the server's refusals) and the
 * Trigger starting on registry.prompt.* events delivered, signed, by the real outbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { execute, failure, HomeostatHeal, HomeostatTrigger, serveApp, triggerContexts } from '../helpers/n8n-harness.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'

let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let rx: Receiver
let credentials: { baseUrl: string; apiKey: string }
let op: { headers: Record<string, string> }

beforeAll(async () => {
  t = await testApp()
  server = await serveApp(t)
  rx = await startReceiver()
  op = await t.key('operator')
  // The node's key as an agent would hold it: a viewer with the routes scope is enough to read prompts.
  credentials = { baseUrl: server.url, apiKey: (await t.key('viewer', ['routes'])).key }
  expect((await t.json('POST', '/api/v1/prompts', { name: 'support' }, op.headers)).status).toBe(201)
  const v = await t.json(
    'POST',
    '/api/v1/prompts/support/versions',
    {
      template: 'Help {{customer}} about {{topic}}.',
      variables: ['customer', 'topic'],
      parameters: { temperature: 0.3 },
      label: 'production',
    },
    op.headers,
  )
  expect(v.status).toBe(201)
})
afterAll(async () => {
  await rx.close()
  await server.close()
  t.close()
})

const heal = (params: Record<string, unknown>, items?: Record<string, unknown>[], continueOnFail = false) =>
  execute(new HomeostatHeal(), {
    params: { operation: 'getPrompt', prompt: 'support', label: 'production', variables: '{}', ...params },
    items,
    credentials,
    continueOnFail,
  })

describe('Heal: Get Prompt', () => {
  it('returns the live version compiled with the variables, one item per input item', async () => {
    const { items } = await heal({ variables: '{"customer": "ACME", "topic": "billing"}' }, [{ a: 1 }, { a: 2 }])
    expect(items).toHaveLength(2)
    expect(items[0]).toEqual({
      json: {
        prompt: 'support',
        label: 'production',
        version: 1,
        compiled: 'Help ACME about billing.',
        template: 'Help {{customer}} about {{topic}}.',
        variables: ['customer', 'topic'],
        parameters: { temperature: 0.3 },
      },
      pairedItem: { item: 0 },
    })
    // Variables given as an object (an expression), numbers sent as text.
    const { items: obj } = await heal({ variables: { customer: 'Initech', topic: 42 } })
    expect(obj[0]!.json.compiled).toBe('Help Initech about 42.')
  })

  it("passes on the server's refusals, and checks names before calling", async () => {
    const missing = await failure(heal({ variables: '{"customer": "ACME"}' }))
    expect(missing.message).toContain('[HTTP 400]')
    expect(JSON.stringify(missing)).toContain('var.topic')
    const nope = await failure(heal({ prompt: 'nope' }))
    expect(nope.message).toBe('Homeostat: Prompt or label not found [HTTP 404]')
    await expect(heal({ prompt: 'has space' })).rejects.toThrow('Item 0, field "Prompt Name"')
    await expect(heal({ label: 'bad label' })).rejects.toThrow('Item 0, field "Label"')
    await expect(heal({ variables: '{"bad-name": "x"}' })).rejects.toThrow('Item 0, field "Variables"')
    await expect(heal({ variables: '[1' })).rejects.toThrow('Item 0, field "Variables"')
    const { items } = await heal({ prompt: 'nope' }, undefined, true)
    expect(items[0]!.json).toMatchObject({ error: expect.stringContaining('not found') })
  })
})

describe('Trigger: registry events', () => {
  it('subscribes to prompt events and starts on a label moved, not on events it did not ask for', async () => {
    const trigger = new HomeostatTrigger()
    const adminCreds = { baseUrl: server.url, apiKey: (await t.key('admin')).key }
    const { hook, webhook, staticData } = triggerContexts({
      params: { events: ['registry.prompt.label_moved', 'registry.prompt.rolled_back'], minSeverity: '' },
      credentials: adminCreds,
      webhookUrl: `${rx.url}/webhook/reg/homeostat`,
    })
    const methods = trigger.webhookMethods.default
    expect(await methods.create.call(hook as never)).toBe(true)
    expect(staticData.secret).toMatch(/^whsec_/)
    t.services.notifier.invalidateRouting()
    const added = await t.json(
      'POST',
      '/api/v1/prompts/support/versions',
      { template: 'Hi {{customer}}, about {{topic}}:', variables: ['customer', 'topic'], label: 'staging' },
      op.headers,
    )
    expect(added.status).toBe(201)
    const back = await t.json('POST', '/api/v1/prompts/support/rollback', { label: 'staging' }, op.headers)
    expect(back.status).toBe(200)
    await t.services.notifier.run(Date.now())
    const calls = rx.on('/webhook/reg/homeostat')
    // version_added was not asked for: only the label moves arrive.
    expect(calls.map((c) => (c.json as { event: string }).event).sort()).toEqual([
      'registry.prompt.label_moved',
      'registry.prompt.rolled_back',
    ])
    const started = []
    for (const call of calls) {
      const { ctx, response } = webhook({ body: call.body, headers: call.headers as Record<string, string> })
      const result = await trigger.webhook.call(ctx as never)
      expect(response.status).toBeUndefined()
      started.push(...result.workflowData![0]!.map((i) => i.json))
    }
    expect(started).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'registry.prompt.label_moved', prompt: 'support', label: 'staging', to: 2 }),
        expect.objectContaining({
          event: 'registry.prompt.rolled_back',
          prompt: 'support',
          label: 'staging',
          from: 2,
          to: 1,
        }),
      ]),
    )
    // A forged delivery is refused.
    const forged = webhook({
      body: calls[0]!.body.replace('staging', 'production'),
      headers: calls[0]!.headers as Record<string, string>,
    })
    await trigger.webhook.call(forged.ctx as never)
    expect(forged.response.status).toBe(401)
    // A trigger listening only to alerts ignores a registry delivery it is sent.
    const other = triggerContexts({
      params: { events: ['fired'], minSeverity: '' },
      credentials: adminCreds,
      webhookUrl: `${rx.url}/webhook/other/homeostat`,
    })
    other.staticData.secret = staticData.secret
    const { ctx } = other.webhook({ body: calls[0]!.body, headers: calls[0]!.headers as Record<string, string> })
    const ignored = await trigger.webhook.call(ctx as never)
    expect(ignored.webhookResponse).toEqual({ received: true, started: false })
    expect(await methods.delete.call(hook as never)).toBe(true)
  })
})
