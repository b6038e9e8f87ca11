/**
 * Issue 16: behind TRUST_PROXY the client address is the X-Forwarded-For entry the trusted proxy
 * appended (TRUSTED_PROXY_COUNT from the right), not the left-most one the client wrote itself.
 */
import { desc } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { forwardedClient } from '../../app/middleware/request-id.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const apps: TestApp[] = []
afterAll(() => {
  for (const t of apps) t.close()
})

/** Creates a channel with a forged X-Forwarded-For and returns the ip its audit row recorded. */
async function auditedIp(env: Record<string, string>, xff: string) {
  const t = await testApp({ TRUST_PROXY: 'true', ...env })
  apps.push(t)
  const op = await t.key('operator')
  const body = { name: 'c', type: 'n8n', settings: { url: 'https://example.com/h' } }
  const res = await t.json('POST', '/api/v1/channels', body, { ...op.headers, 'X-Forwarded-For': xff })
  expect(res.status).toBe(201)
  const [row] = await t.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(1)
  return row?.ip
}

describe('client address behind proxies', () => {
  it('one trusted proxy (the default): the right-most entry, not the forged left-most one', async () => {
    expect(await auditedIp({}, '6.6.6.6, 203.0.113.7')).toBe('203.0.113.7')
  })

  it('TRUSTED_PROXY_COUNT=2: the entry two from the right', async () => {
    expect(await auditedIp({ TRUSTED_PROXY_COUNT: '2' }, '6.6.6.6, 203.0.113.7, 10.0.0.2')).toBe('203.0.113.7')
  })

  it('the per-ip rate limit cannot be dodged by varying the forged entry', async () => {
    const t = await testApp({ TRUST_PROXY: 'true', IP_RATE_LIMIT_BURST: '2', IP_RATE_LIMIT_PER_SECOND: '1' })
    apps.push(t)
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await t.app.request('/api/v1/whoami', { headers: { 'X-Forwarded-For': `6.6.6.${i}, 203.0.113.9` } })
      statuses.push(res.status)
    }
    expect(statuses).toContain(429)
  })

  it('forwardedClient: fewer entries than proxies means the left-most (all written by proxies)', () => {
    expect(forwardedClient('203.0.113.7', 2)).toBe('203.0.113.7')
    expect(forwardedClient(' a , b ', 1)).toBe('b')
    expect(forwardedClient(undefined, 1)).toBeUndefined()
    expect(forwardedClient('a, ', 1)).toBeUndefined()
  })
})
