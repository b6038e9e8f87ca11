/**
 * Issue 16, "Secrets stay secret": a stored secret never follows a channel (or n8n instance) to a
 * new destination. Moving it needs the secret again in the same request, else a 400 naming it.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const op = await t.key('operator')
const admin = await t.key('admin')

type Err = { error: { details: { field: string }[] } }
const fields = async (res: Response) => ((await res.json()) as Err).error.details.map((d) => d.field)
const create = async (body: unknown) => {
  const res = await t.json('POST', '/api/v1/channels', body, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return ((await res.json()) as { id: string }).id
}
const patch = (id: string, settings: unknown) => t.json('PATCH', `/api/v1/channels/${id}`, { settings }, op.headers)

describe('a channel moved to a new destination', () => {
  it('pagerduty: a new baseUrl without the routing key is a 400 naming settings.routingKey', async () => {
    const id = await create({
      name: 'pd',
      type: 'pagerduty',
      settings: { routingKey: 'R0UTING-KEY-SECRET', baseUrl: 'https://events.example.com' },
    })
    const res = await patch(id, { baseUrl: 'https://attacker.example.net' })
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain('settings.routingKey')
    expect((await patch(id, { baseUrl: 'https://attacker.example.net', routingKey: 'new-key' })).status).toBe(200)
    // the same destination again needs nothing
    expect((await patch(id, { baseUrl: 'https://attacker.example.net' })).status).toBe(200)
  })

  it('email: a new host without the password is a 400 naming settings.password', async () => {
    const id = await create({
      name: 'mail',
      type: 'email',
      settings: {
        host: 'smtp.example.com',
        port: 587,
        user: 'u',
        password: 'smtp-pass-secret',
        from: 'a@example.com',
        to: ['b@example.com'],
      },
    })
    const res = await patch(id, { host: 'smtp.attacker.example.net' })
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain('settings.password')
    expect((await patch(id, { port: 2525 })).status).toBe(200) // same host: same server
    expect((await patch(id, { host: 'smtp.attacker.example.net', password: 'other' })).status).toBe(200)
  })

  it('webhook: a new url without the headers is a 400 naming settings.headers', async () => {
    const id = await create({
      name: 'hook',
      type: 'webhook',
      settings: { url: 'https://hooks.example.com/x', headers: { Authorization: 'Bearer tok-secret' } },
    })
    const res = await patch(id, { url: 'https://attacker.example.net/x' })
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain('settings.headers')
    expect((await patch(id, { url: 'https://attacker.example.net/x', headers: {} })).status).toBe(200)
  })

  it('the dashboard edit form refuses the same move', async () => {
    const id = await create({
      name: 'pd-page',
      type: 'pagerduty',
      settings: { routingKey: 'R0UTING-KEY-SECRET', baseUrl: 'https://events.example.com' },
    })
    const s = await t.session('operator')
    const res = await t.app.request(`/alerts/channels/${id}/edit`, {
      method: 'POST',
      headers: { ...s.headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: new URLSearchParams({ name: 'pd-page', enabled: 'on', baseUrl: 'https://attacker.example.net' }),
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('routingKey')
  })
})

describe('an n8n instance moved to a new base URL', () => {
  it('needs the API key again (400 naming apiKey)', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'n8n-a', baseUrl: 'https://n8n.example.com', apiKey: 'n8n-api-key-secret' },
      admin.headers,
    )
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    const path = `/api/v1/healing/n8n-instances/${id}`
    const moved = await t.json('PATCH', path, { baseUrl: 'https://attacker.example.net' }, admin.headers)
    expect(moved.status).toBe(400)
    expect(await fields(moved)).toContain('apiKey')
    const withKey = { baseUrl: 'https://attacker.example.net', apiKey: 'k2' }
    expect((await t.json('PATCH', path, withKey, admin.headers)).status).toBe(200)
    expect((await t.json('PATCH', path, { name: 'n8n-b' }, admin.headers)).status).toBe(200)
  })
})
