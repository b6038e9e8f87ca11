/**
 * Issue 16, "Secrets stay secret": a database written before sealed values were bound to their rows
 * (values sealed without AAD, v2, or with the old key, v1) is upgraded when the real server starts,
 * under Bun (`npm start`) and Deno (`npm run start:deno`): every secret is bound and still used, and
 * the log counts what it bound without showing a value.
 */
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { components } from '../../db/schema/components.ts'
import { n8nInstances } from '../../db/schema/healing.ts'
import { channels } from '../../db/schema/notify.ts'
import { TEST_SECRET_KEY, testApp } from '../helpers/app.ts'
import { startReceiver } from '../helpers/receiver.ts'
import { killAll, type Runtime, startServer } from '../helpers/server.ts'

const rx = await startReceiver()
afterAll(async () => {
  await killAll()
  await rx.close()
})

const TOKEN = 'old-db-token-4c2d'

/** As versions before binding sealed: AES-256-GCM without AAD, under the HKDF key (v2) or the old one (v1). */
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

const runtimes: Runtime[] = ['bun', 'deno']

describe.each(runtimes)('%s: an old database at start-up', (runtime) => {
  it('is upgraded: channel secrets, n8n key and push token bound to their rows and still used', async () => {
    const t = await testApp()
    try {
      const admin = await t.key('admin')
      const made = async (path: string, body: unknown) => {
        const res = await t.json('POST', path, body, admin.headers)
        expect(res.status, await res.clone().text()).toBe(201)
        return (await res.json()) as { id: string; push?: { token: string } }
      }
      const ch = await made('/api/v1/channels', {
        name: 'hook',
        type: 'webhook',
        settings: { url: `${rx.url}/${runtime}`, headers: { 'X-Token': TOKEN } },
      })
      const n8n = await made('/api/v1/healing/n8n-instances', {
        name: 'n8n',
        baseUrl: 'http://127.0.0.1:9',
        apiKey: 'n8n-api-key-123456',
      })
      const comp = await made('/api/v1/components', {
        name: 'etl',
        kind: 'workflow',
        push: { expectedIntervalSeconds: 60 },
      })
      // Written back as the older versions wrote them.
      const [row] = await t.db.select().from(channels).where(eq(channels.id, ch.id))
      const secrets = t.sealer.open(row!.secrets!, `channels:${ch.id}:secrets`)
      await t.db
        .update(channels)
        .set({ secrets: unbound(secrets, 'v2') })
        .where(eq(channels.id, ch.id))
      await t.db
        .update(n8nInstances)
        .set({ apiKey: unbound('n8n-api-key-123456', 'v1') })
        .where(eq(n8nInstances.id, n8n.id))
      await t.db
        .update(components)
        .set({ pushTokenSealed: unbound(comp.push!.token, 'v2') })
        .where(eq(components.id, comp.id))

      const server = await startServer({
        runtime,
        env: { DATABASE_URL: t.config.DATABASE_URL, DATA_DIR: t.dir, SECRET_KEY: TEST_SECRET_KEY },
      })
      await server.waitForOutput(/sealed secrets bound to their rows/)
      expect(server.output()).toMatch(/"upgraded":3/)
      expect(server.output()).not.toContain(TOKEN)

      const get = async (path: string) => (await server.fetch(path, { headers: admin.headers })).json()
      const shown = (await get(`/api/v1/channels/${ch.id}`)) as { secretsUnreadable?: boolean; settings: object }
      expect(shown.secretsUnreadable).toBeUndefined()
      expect(JSON.stringify(shown.settings)).not.toContain(TOKEN)
      const tested = await server.fetch(`/api/v1/channels/${ch.id}/test`, { method: 'POST', headers: admin.headers })
      expect(await tested.json()).toMatchObject({ ok: true })
      expect(rx.on(`/${runtime}`)[0]?.headers['x-token']).toBe(TOKEN)
      const listed = (await get('/api/v1/healing/n8n-instances')) as { items: { apiKey: string }[] }
      expect(listed.items[0]?.apiKey).toBe(`n8n-${'•'.repeat(8)}`)
      const c = (await get(`/api/v1/components/${comp.id}`)) as { push: { token?: string } }
      expect(c.push.token).toBe(comp.push!.token)
      expect(await server.stop()).toBe(0)
    } finally {
      t.close()
    }
  }, 90_000)
})
