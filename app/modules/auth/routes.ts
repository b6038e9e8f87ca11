import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { access } from '../../middleware/access.ts'
import { AppError, badRequest } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import { createApiKey, keySummary, listApiKeys, publicKey, revokeApiKey, type KeyStore } from './keys.ts'
import {
  ChangePassword,
  CreateKey,
  CreateUser,
  DisableTwoFactor,
  IdParam,
  ListQuery,
  ThemeBody,
  TotpCode,
  UpdateUser,
} from './schema.ts'
import { changeOwnPassword, setTheme, turnOffTwoFactor } from './account.ts'
import { loginPolicy } from './login.ts'
import { beginEnrolment, confirmEnrolment } from './two-factor.ts'
import { createUser, deleteUser, getUser, listUsers, publicUser, updateUser } from './users.ts'

export function authRoutes(deps: ModuleDeps & { keys: KeyStore }) {
  const { db } = deps
  const app = new Hono<AppEnv>()
  const policy = loginPolicy(deps.config)
  const passwordCost = policy.passwordCost
  const tags = ['auth']

  app.get(
    '/api/v1/whoami',
    access('authenticated'),
    describe('Who is calling: user or API key, role and scopes', tags),
    (c) => {
      const p = requirePrincipal(c)
      return c.json({
        kind: p.kind === 'key' ? 'api_key' : 'user',
        id: p.id,
        name: p.name,
        role: p.role,
        scopes: p.scopes,
      })
    },
  )

  // Users (admin)
  app.get('/api/v1/users', access('admin'), describe('List users', tags), async (c) =>
    c.json({ items: (await listUsers(db)).map(publicUser) }),
  )

  app.post(
    '/api/v1/users',
    access('admin'),
    describe('Create a user', tags, 201),
    validate('json', CreateUser),
    async (c) => {
      const user = await createUser(db, { ...c.req.valid('json'), passwordCost })
      await audit(db, c, { action: 'user.created', target: user.email, summary: `role ${user.role}` })
      return c.json(publicUser(user), 201)
    },
  )

  app.get('/api/v1/users/:id', access('admin'), describe('Get a user', tags), validate('param', IdParam), async (c) =>
    c.json(publicUser(await getUser(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/users/:id',
    access('admin'),
    describe('Change a user: name, role, password, unlock', tags),
    validate('param', IdParam),
    validate('json', UpdateUser),
    async (c) => {
      const patch = c.req.valid('json')
      const user = await updateUser(db, c.req.valid('param').id, { ...patch, passwordCost })
      const changed = Object.keys(patch)
        .filter((k) => k !== 'password')
        .concat(patch.password ? ['password'] : [])
      await audit(db, c, {
        action: 'user.updated',
        target: user.email,
        summary: `changed ${changed.join(', ') || 'nothing'}`,
      })
      return c.json(publicUser(user))
    },
  )

  app.delete(
    '/api/v1/users/:id',
    access('admin'),
    describe('Delete a user', tags),
    validate('param', IdParam),
    async (c) => {
      const user = await deleteUser(db, c.req.valid('param').id)
      await audit(db, c, { action: 'user.deleted', target: user.email })
      return c.json({ deleted: user.id })
    },
  )

  // API keys (admin)
  app.get(
    '/api/v1/keys',
    access('admin'),
    describe('List API keys (never the keys themselves)', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listApiKeys(db, { limit: q.limit ?? 100, cursor: q.cursor })
      return c.json({ items: items.map(publicKey), next })
    },
  )

  app.post(
    '/api/v1/keys',
    access('admin'),
    describe('Create an API key; the key is in this reply only', tags, 201),
    validate('json', CreateKey),
    async (c) => {
      const input = c.req.valid('json')
      if (input.expiresAt != null && input.expiresAt <= Date.now())
        throw badRequest('Invalid body', [{ field: 'expiresAt', message: 'must be in the future' }])
      const { key, row } = await createApiKey(db, { ...input, createdBy: requirePrincipal(c).name })
      await audit(db, c, { action: 'key.created', target: row.prefix, summary: keySummary(row) })
      return c.json({ ...publicKey(row), key }, 201)
    },
  )

  app.delete(
    '/api/v1/keys/:id',
    access('admin'),
    describe('Revoke an API key (by id or prefix)', tags),
    validate('param', IdParam),
    async (c) => {
      const row = await revokeApiKey(db, c.req.valid('param').id)
      deps.keys.forget(row.id)
      await audit(db, c, { action: 'key.revoked', target: row.prefix, summary: row.name })
      return c.json(publicKey(row))
    },
  )

  // The signed-in user's own account
  const me = async (c: Parameters<typeof requirePrincipal>[0]) => {
    const p = requirePrincipal(c)
    if (p.kind !== 'session' || !p.userId)
      throw new AppError(400, 'user_only', 'This is for a signed-in user, not an API key')
    return getUser(db, p.userId)
  }

  app.get('/api/v1/me', access('viewer'), describe('The signed-in user', tags), async (c) =>
    c.json(publicUser(await me(c))),
  )

  app.post(
    '/api/v1/me/password',
    access('viewer'),
    describe('Change my password', tags),
    validate('json', ChangePassword),
    async (c) => {
      const user = await me(c)
      const input = c.req.valid('json')
      await changeOwnPassword(db, policy, user, input.currentPassword, input.newPassword)
      await audit(db, c, { action: 'user.password_changed', target: user.email })
      return c.json({ ok: true, signedOut: true })
    },
  )

  app.put(
    '/api/v1/me/theme',
    access('viewer'),
    describe('Set my dashboard theme: light, dark, or system (follow the browser)', tags),
    validate('json', ThemeBody),
    async (c) => {
      const user = await me(c)
      const { theme } = c.req.valid('json')
      await setTheme(db, user.id, theme)
      await audit(db, c, { action: 'user.theme_changed', target: user.email, summary: theme })
      return c.json({ theme })
    },
  )

  app.post(
    '/api/v1/me/2fa/setup',
    access('viewer'),
    describe('Start two-factor enrolment: secret and otpauth URI', tags),
    async (c) => {
      const user = await me(c)
      return c.json(await beginEnrolment(db, deps.sealer, user))
    },
  )

  app.post(
    '/api/v1/me/2fa/enable',
    access('viewer'),
    describe('Confirm two-factor enrolment with a code; returns recovery codes once', tags),
    validate('json', TotpCode),
    async (c) => {
      const user = await me(c)
      const recoveryCodes = await confirmEnrolment(db, deps.sealer, user, c.req.valid('json').code)
      await audit(db, c, { action: 'user.2fa_enabled', target: user.email })
      return c.json({ enabled: true, recoveryCodes })
    },
  )

  app.post(
    '/api/v1/me/2fa/disable',
    access('viewer'),
    describe('Turn two-factor sign-in off (needs the password)', tags),
    validate('json', DisableTwoFactor),
    async (c) => {
      const user = await me(c)
      await turnOffTwoFactor(db, policy, user, c.req.valid('json').password, deps.config.REQUIRE_ADMIN_2FA)
      await audit(db, c, { action: 'user.2fa_disabled', target: user.email })
      return c.json({ enabled: false })
    },
  )

  return app
}
