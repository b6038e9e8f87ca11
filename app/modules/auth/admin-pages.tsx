/** @jsxImportSource hono/jsx */
import { Hono, type Context } from 'hono'
import { type ApiKey, type User, roles } from '../../../db/schema/auth.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { Empty, Layout, when } from '../../lib/layout.tsx'
import { days } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import { createApiKey, keySummary, listApiKeys, revokeApiKey, type KeyStore } from './keys.ts'
import { IdParam, KeyForm, UserForm, UserRoleForm } from './schema.ts'
import { createUser, deleteUser, listUsers, updateUser } from './users.ts'

function UsersTable({ users, me }: { users: User[]; me: string }) {
  return (
    <table id="users" class="table">
      <thead>
        <tr>
          <th>Email</th>
          <th>Name</th>
          <th>Role</th>
          <th>2FA</th>
          <th>Last sign-in</th>
          <th>
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {users.map((u) => (
          <tr>
            <td>{u.email}</td>
            <td>{u.name}</td>
            <td>
              <select
                name="role"
                aria-label={`Role of ${u.email}`}
                hx-patch={`/settings/users/${u.id}`}
                hx-trigger="change"
                hx-target="#users"
                hx-swap="outerHTML"
              >
                {roles.map((r) => (
                  <option value={r} selected={u.role === r}>
                    {r}
                  </option>
                ))}
              </select>
            </td>
            <td>{u.totpEnabledAt ? 'on' : 'off'}</td>
            <td>
              {when(u.lastLoginAt)}
              {u.lockedUntil && u.lockedUntil > Date.now() ? <span class="badge warn">locked</span> : null}
            </td>
            <td class="actions">
              {u.id === me ? (
                <span class="muted">you</span>
              ) : (
                <button
                  class="danger small"
                  hx-delete={`/settings/users/${u.id}`}
                  hx-confirm={`Delete ${u.email}?`}
                  hx-target="#users"
                  hx-swap="outerHTML"
                >
                  Delete
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function KeysPanel({ keys, created }: { keys: ApiKey[]; created?: { key: string; name: string } }) {
  const active = keys.filter((k) => !k.revokedAt)
  return (
    <div id="keys-panel">
      {created ? (
        <div class="newkey" role="status">
          <p>
            <strong>New key “{created.name}”.</strong> Copy it now: it is shown only this once.
          </p>
          <code id="new-key" class="secret">
            {created.key}
          </code>
        </div>
      ) : null}
      {active.length === 0 ? (
        <Empty>No API keys yet. Create one above for scripts, agents, n8n or Prometheus.</Empty>
      ) : (
        <table class="table" id="keys">
          <thead>
            <tr>
              <th>Prefix</th>
              <th>Name</th>
              <th>Role</th>
              <th>Scopes</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {active.map((k) => (
              <tr data-prefix={k.prefix}>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td>
                  {k.scopes.join(', ') || 'all'}
                  {k.source ? ` (source ${k.source})` : ''}
                </td>
                <td>{when(k.createdAt)}</td>
                <td>{when(k.lastUsedAt)}</td>
                <td>{when(k.expiresAt)}</td>
                <td class="actions">
                  <button
                    class="danger small"
                    hx-delete={`/settings/keys/${k.id}`}
                    hx-confirm={`Revoke ${k.prefix} (${k.name})? Anything using it stops working.`}
                    hx-target="#keys-panel"
                    hx-swap="outerHTML"
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

export function adminPages(deps: ModuleDeps & { keys: KeyStore }) {
  const { db } = deps
  const app = new Hono<AppEnv>()
  const me = (c: Context<AppEnv>) => requirePrincipal(c).id
  const usersTable = async (c: Context<AppEnv>) => c.html(<UsersTable users={await listUsers(db)} me={me(c)} />)
  const keysPanel = async (created?: { key: string; name: string }) => (
    <KeysPanel keys={(await listApiKeys(db, { limit: 500 })).items} created={created} />
  )

  app.get('/settings/users', access('admin'), async (c) =>
    c.html(
      <Layout title="Users" active="/settings" principal={requirePrincipal(c)}>
        <h1>Users</h1>
        <p class="muted">Admins manage users and keys; operators change alerts, healing and data; viewers read.</p>
        <form
          class="inline card"
          hx-post="/settings/users"
          hx-target="#users"
          hx-swap="outerHTML"
          hx-on--after-request="if(event.detail.successful) this.reset()"
        >
          <label>
            Email <input name="email" type="email" required />
          </label>
          <label>
            Name <input name="name" />
          </label>
          <label>
            Role{' '}
            <select name="role">
              {roles.map((r) => (
                <option value={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Password <input name="password" type="password" minlength={12} required autocomplete="new-password" />
          </label>
          <button type="submit">Add user</button>
        </form>
        <UsersTable users={await listUsers(db)} me={me(c)} />
      </Layout>,
    ),
  )

  app.post('/settings/users', access('admin'), validate('form', UserForm), async (c) => {
    const user = await createUser(db, { ...c.req.valid('form'), passwordCost: deps.config.PASSWORD_HASH_COST })
    await audit(db, c, { action: 'user.created', target: user.email, summary: `role ${user.role}` })
    return usersTable(c)
  })

  app.patch(
    '/settings/users/:id',
    access('admin'),
    validate('param', IdParam),
    validate('form', UserRoleForm),
    async (c) => {
      const user = await updateUser(db, c.req.valid('param').id, { role: c.req.valid('form').role })
      await audit(db, c, { action: 'user.updated', target: user.email, summary: `role ${user.role}` })
      return usersTable(c)
    },
  )

  app.delete('/settings/users/:id', access('admin'), validate('param', IdParam), async (c) => {
    const user = await deleteUser(db, c.req.valid('param').id)
    await audit(db, c, { action: 'user.deleted', target: user.email })
    return usersTable(c)
  })

  app.get('/settings/keys', access('admin'), async (c) =>
    c.html(
      <Layout title="API keys" active="/settings" principal={requirePrincipal(c)}>
        <h1>API keys</h1>
        <p class="muted">
          Send a key as <code>Authorization: Bearer hs_…</code> or <code>X-API-Key</code>. Keys with the{' '}
          <code>ingest</code> scope may only push metrics and alerts, <code>breakers</code> only report breaker
          outcomes, <code>routes</code> only read model routes (see docs/security.md).
        </p>
        <form
          class="inline card"
          hx-post="/settings/keys"
          hx-target="#keys-panel"
          hx-swap="outerHTML"
          hx-on--after-request="if(event.detail.successful) this.reset()"
        >
          <label>
            Name <input name="name" required maxlength={100} placeholder="prometheus, n8n, agent-7" />
          </label>
          <label>
            Role{' '}
            <select name="role">
              {roles.map((r) => (
                <option value={r} selected={r === 'operator'}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            Scope{' '}
            <select name="scope">
              <option value="">none (no scope limit)</option>
              <option value="ingest">ingest: push metrics and alerts</option>
              <option value="breakers">breakers: report breaker outcomes</option>
              <option value="routes">routes: read model routes</option>
              <option value="routes,breakers">routes + breakers (an agent)</option>
            </select>
          </label>
          <label>
            Source <input name="source" maxlength={100} size={12} placeholder="any" pattern="[a-z0-9_.\-]+" />
          </label>
          <label>
            Expires in days{' '}
            <input name="expiresInDays" inputmode="numeric" pattern="[0-9]*" size={5} placeholder="never" />
          </label>
          <button type="submit">Create key</button>
        </form>
        {await keysPanel()}
      </Layout>,
    ),
  )

  app.post('/settings/keys', access('admin'), validate('form', KeyForm), async (c) => {
    const form = c.req.valid('form')
    const expiresAt = form.expiresInDays ? Date.now() + days(Number(form.expiresInDays)) : null
    const { key, row } = await createApiKey(db, {
      name: form.name,
      role: form.role,
      scopes: form.scope ? form.scope.split(',') : [],
      source: form.source || null,
      expiresAt,
      createdBy: requirePrincipal(c).name,
    })
    await audit(db, c, { action: 'key.created', target: row.prefix, summary: keySummary(row) })
    return c.html(await keysPanel({ key, name: row.name }))
  })

  app.delete('/settings/keys/:id', access('admin'), validate('param', IdParam), async (c) => {
    const row = await revokeApiKey(db, c.req.valid('param').id)
    deps.keys.forget(row.id)
    await audit(db, c, { action: 'key.revoked', target: row.prefix, summary: row.name })
    return c.html(await keysPanel())
  })

  return app
}
