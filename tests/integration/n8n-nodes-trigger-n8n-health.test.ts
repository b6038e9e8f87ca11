/**
 * The Homeostat Trigger node starts on an n8n workflow-health alert like on any other: a failed
 * execution read from the local stand-in of n8n's API raises `n8n_execution_failed`, which reaches
 * the Trigger's subscription signed, and becomes an item with its class and execution id.
 */
import { afterAll, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { HomeostatTrigger, serveApp, triggerContexts } from '../helpers/n8n-harness.ts'
import { startReceiver } from '../helpers/receiver.ts'

const KEY = 'n8n-api-key-for-trigger-tests'
const t = await testApp({ N8N_POLL_MAX_RPS: '100' })
const server = await serveApp(t)
const rx = await startReceiver()
const n8n = await startFakeN8n({ apiKey: KEY })
afterAll(async () => {
  await n8n.close()
  await rx.close()
  await server.close()
  t.close()
})

it('a failed n8n execution starts the Trigger with the alert, its class and execution id', async () => {
  const admin = await t.key('admin')
  const res = await t.json(
    'POST',
    '/api/v1/healing/n8n-instances',
    { name: 'prod', baseUrl: n8n.url, apiKey: KEY },
    admin.headers,
  )
  const inst = ((await res.json()) as { id: string }).id
  const credentials = { baseUrl: server.url, apiKey: (await t.key('operator')).key }
  const trigger = new HomeostatTrigger()
  const { hook, webhook } = triggerContexts({
    params: { events: ['fired'], minSeverity: 'error' },
    credentials,
    webhookUrl: `${rx.url}/webhook/n8n-health/homeostat`,
  })
  expect(await trigger.webhookMethods.default.create.call(hook as never)).toBe(true)

  n8n.addWorkflow('w1', 'Sync CRM', true)
  const error = {
    name: 'NodeApiError',
    httpCode: '503',
    message: '503 - Service Unavailable',
    node: { name: 'Call CRM', type: 'n8n-nodes-base.httpRequest' },
  }
  const now = Date.now()
  n8n.addExecution('7', 'error', 'w1', {
    startedAt: new Date(now - 2000).toISOString(),
    stoppedAt: new Date(now - 1000).toISOString(),
    data: { resultData: { runData: { 'Call CRM': [{ startTime: now, error }] }, lastNodeExecuted: 'Call CRM', error } },
  })
  await t.services.workflowHealth.poll(now, inst)
  await t.services.notifier.run(Date.now())
  const calls = rx.on('/webhook/n8n-health/homeostat')
  expect(calls).toHaveLength(1)
  const { ctx } = webhook({ body: calls[0]!.body, headers: calls[0]!.headers as Record<string, string> })
  const result = await trigger.webhook.call(ctx as never)
  expect(result.workflowData![0]!.map((i) => i.json)).toEqual([
    expect.objectContaining({
      event: 'fired',
      severity: 'error',
      labels: expect.objectContaining({ alertname: 'n8n_execution_failed', class: 'upstream_5xx', workflow_id: 'w1' }),
      annotations: expect.objectContaining({ execution_id: '7' }),
    }),
  ])

  // A bad signature on the same delivery starts nothing.
  const forged = webhook({
    body: calls[0]!.body.replace('upstream_5xx', 'credentials'),
    headers: calls[0]!.headers as Record<string, string>,
  })
  expect(await trigger.webhook.call(forged.ctx as never)).toEqual({ noWebhookResponse: true })
  expect(forged.response.status).toBe(401)
})
