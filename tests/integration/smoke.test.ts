import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
beforeAll(async () => {
  t = await testApp()
})
afterAll(() => t.close())

describe('smoke', () => {
  it('health answers without auth', async () => {
    const res = await t.app.request('/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok' })
  })

  it('whoami with a key and with a session', async () => {
    const { headers } = await t.key('operator')
    const res = await t.app.request('/api/v1/whoami', { headers })
    expect(await res.json()).toMatchObject({ kind: 'api_key', role: 'operator' })
    const s = await t.session('viewer')
    const res2 = await t.app.request('/api/v1/whoami', { headers: s.headers })
    expect(await res2.json()).toMatchObject({ kind: 'user', role: 'viewer', name: s.user.email })
  })
})
