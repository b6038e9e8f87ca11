/** @jsxImportSource hono/jsx */
import { Hono, type Context } from 'hono'
import * as v from 'valibot'
import type { User } from '../../../db/schema/auth.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { AppError } from '../../lib/errors.ts'
import { ErrorBox, Layout } from '../../lib/layout.tsx'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import { Password, ThemeBody, TotpCode } from './schema.ts'
import { changeOwnPassword, setTheme, turnOffTwoFactor } from './account.ts'
import { loginPolicy } from './login.ts'
import { beginEnrolment, confirmEnrolment } from './two-factor.ts'
import { getUser } from './users.ts'

const PasswordForm = v.object({ currentPassword: v.pipe(v.string(), v.maxLength(200)), newPassword: Password })
const CodeForm = v.object({ code: TotpCode.entries.code })
const DisableForm = v.object({ password: v.pipe(v.string(), v.maxLength(200)) })

function TwoFactorPanel({ user, required }: { user: User; required: boolean }) {
  return (
    <section id="twofactor" class="card">
      <h2>Two-factor sign-in</h2>
      {user.totpEnabledAt ? (
        <>
          <p>On. Each sign-in asks for a code from your authenticator app.</p>
          {required ? (
            <p class="muted">Required for admins on this server.</p>
          ) : (
            <form class="inline" hx-post="/settings/security/2fa/disable" hx-target="#twofactor" hx-swap="outerHTML">
              <label>
                Password <input name="password" type="password" required autocomplete="current-password" />
              </label>
              <button class="danger" type="submit">
                Turn off
              </button>
            </form>
          )}
        </>
      ) : (
        <>
          {required ? (
            <ErrorBox message="Admins must turn on two-factor sign-in before using the dashboard." />
          ) : (
            <p>Off.</p>
          )}
          <button hx-post="/settings/security/2fa/setup" hx-target="#twofactor" hx-swap="outerHTML">
            Set up
          </button>
        </>
      )}
    </section>
  )
}

export function accountPages(deps: ModuleDeps) {
  const { db, sealer, config } = deps
  const app = new Hono<AppEnv>()
  const policy = loginPolicy(config)
  const me = async (c: Context<AppEnv>) => {
    const p = requirePrincipal(c)
    if (p.kind !== 'session' || !p.userId) throw new AppError(400, 'user_only', 'This page is for a signed-in user')
    return getUser(db, p.userId)
  }
  const required = (u: User) => config.REQUIRE_ADMIN_2FA && u.role === 'admin'

  // The theme toggle in the top bar (public/app.js): kept for the user, answered with nothing to swap.
  app.post('/settings/theme', access('viewer'), validate('form', ThemeBody), async (c) => {
    const p = requirePrincipal(c)
    if (p.kind !== 'session' || !p.userId)
      throw new AppError(400, 'user_only', 'This is for a signed-in user, not an API key')
    const { theme } = c.req.valid('form')
    await setTheme(deps.db, p.userId, theme)
    await audit(deps.db, c, { action: 'user.theme_changed', target: p.name, summary: theme })
    return c.body(null, 204)
  })

  app.get('/settings/security', access('viewer'), async (c) => {
    const user = await me(c)
    return c.html(
      <Layout title="Security" active="/settings" principal={requirePrincipal(c)}>
        <h1>My account</h1>
        <p class="muted">
          {user.email} · {user.role}
        </p>
        <TwoFactorPanel user={user} required={required(user)} />
        <section class="card">
          <h2>Password</h2>
          <form class="stack" hx-post="/settings/security/password" hx-target="#password-result">
            <label>
              Current password <input name="currentPassword" type="password" required autocomplete="current-password" />
            </label>
            <label>
              New password{' '}
              <input name="newPassword" type="password" minlength={12} required autocomplete="new-password" />
            </label>
            <button type="submit">Change password</button>
          </form>
          <div id="password-result"></div>
        </section>
      </Layout>,
    )
  })

  app.post('/settings/security/2fa/setup', access('viewer'), async (c) => {
    const { secret, uri } = await beginEnrolment(db, sealer, await me(c))
    return c.html(
      <section id="twofactor" class="card">
        <h2>Two-factor sign-in</h2>
        <p>Add this key to your authenticator app (or open the link on your phone), then enter the code it shows.</p>
        <p>
          <code class="secret" id="totp-secret">
            {secret}
          </code>
        </p>
        <p>
          <a href={uri}>Open in authenticator</a>
        </p>
        <form class="inline" hx-post="/settings/security/2fa/enable" hx-target="#twofactor" hx-swap="outerHTML">
          <label>
            Code <input name="code" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9]{6}" />
          </label>
          <button type="submit">Turn on</button>
        </form>
      </section>,
    )
  })

  app.post('/settings/security/2fa/enable', access('viewer'), validate('form', CodeForm), async (c) => {
    const user = await me(c)
    const codes = await confirmEnrolment(db, sealer, user, c.req.valid('form').code)
    await audit(db, c, { action: 'user.2fa_enabled', target: user.email })
    return c.html(
      <section id="twofactor" class="card">
        <h2>Two-factor sign-in is on</h2>
        <p>
          Keep these recovery codes somewhere safe. Each works once if you lose your authenticator. They are shown only
          now.
        </p>
        <ul class="codes">
          {codes.map((code) => (
            <li>
              <code>{code}</code>
            </li>
          ))}
        </ul>
        <a href="/">Continue to the dashboard</a>
      </section>,
    )
  })

  app.post('/settings/security/2fa/disable', access('viewer'), validate('form', DisableForm), async (c) => {
    const user = await me(c)
    await turnOffTwoFactor(db, policy, user, c.req.valid('form').password, config.REQUIRE_ADMIN_2FA)
    await audit(db, c, { action: 'user.2fa_disabled', target: user.email })
    return c.html(<TwoFactorPanel user={await getUser(db, user.id)} required={false} />)
  })

  app.post('/settings/security/password', access('viewer'), validate('form', PasswordForm), async (c) => {
    const user = await me(c)
    const form = c.req.valid('form')
    await changeOwnPassword(db, policy, user, form.currentPassword, form.newPassword)
    await audit(db, c, { action: 'user.password_changed', target: user.email })
    return c.body(null, 200, { 'HX-Redirect': '/login' })
  })

  return app
}
