/** @jsxImportSource hono/jsx */
import { Hono, type Context } from 'hono'
import { deleteCookie, getCookie } from 'hono/cookie'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { createRateLimiter } from '../../middleware/rate-limit.ts'
import { AppError } from '../../lib/errors.ts'
import { Bare, ErrorBox } from '../../lib/layout.tsx'
import { hours } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import { checkPassword, loginPolicy, recordFailure, recordSuccess } from './login.ts'
import { LoginForm, SecondFactorForm, SetupForm } from './schema.ts'
import { createSession, deleteSession, SESSION_COOKIE, setSessionCookie } from './sessions.ts'
import { completeSetup, setupTokenValid } from './setup.ts'
import { issueTicket, readTicket, verifySecondFactor } from './two-factor.ts'
import { countUsers, getUser } from './users.ts'

/** Only local paths, so a crafted link cannot send a user elsewhere after sign-in. */
function safeNext(next: string | undefined) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/'
  const base = 'http://homeostat.invalid'
  try {
    const url = new URL(next, base)
    return url.origin === base ? url.pathname + url.search + url.hash : '/'
  } catch {
    return '/'
  }
}

function LoginPage(props: {
  next?: string
  error?: string
  expired?: boolean
  setupPending?: boolean
  email?: string
}) {
  return (
    <Bare title="Sign in">
      {props.expired ? <p class="notice">Your session has expired. Sign in again.</p> : null}
      {props.setupPending ? (
        <p class="notice">No user exists yet. Open the one-time setup link printed in the server console.</p>
      ) : null}
      {props.error ? <ErrorBox message={props.error} /> : null}
      <form method="post" action="/login" class="stack">
        <input type="hidden" name="next" value={props.next ?? '/'} />
        <label>
          Email
          <input name="email" type="email" autocomplete="username" required autofocus value={props.email ?? ''} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </Bare>
  )
}

function SecondFactorPage(props: { ticket: string; next?: string; error?: string }) {
  return (
    <Bare title="Two-factor sign-in">
      {props.error ? <ErrorBox message={props.error} /> : null}
      <form method="post" action="/login/2fa" class="stack">
        <input type="hidden" name="ticket" value={props.ticket} />
        <input type="hidden" name="next" value={props.next ?? '/'} />
        <label>
          Code from your authenticator app (or a recovery code)
          <input
            name="code"
            inputmode="numeric"
            autocomplete="one-time-code"
            required
            autofocus
            pattern="[0-9A-Za-z]{6,10}"
          />
        </label>
        <button type="submit">Verify</button>
      </form>
    </Bare>
  )
}

function SetupPage(props: { token: string; error?: string; details?: { field: string; message: string }[] }) {
  return (
    <Bare title="Set up Homeostat">
      <p>Create the first admin account. This link works once.</p>
      {props.error ? <ErrorBox message={props.error} details={props.details} /> : null}
      <form method="post" action="/setup" class="stack">
        <input type="hidden" name="token" value={props.token} />
        <label>
          Email <input name="email" type="email" autocomplete="username" required autofocus />
        </label>
        <label>
          Name <input name="name" autocomplete="name" />
        </label>
        <label>
          Password (12 characters or more){' '}
          <input name="password" type="password" autocomplete="new-password" minlength={12} required />
        </label>
        <button type="submit">Create admin and sign in</button>
      </form>
    </Bare>
  )
}

export function signInPages(deps: ModuleDeps) {
  const { db, config } = deps
  const app = new Hono<AppEnv>()
  const perMinute = config.LOGIN_RATE_LIMIT_PER_MINUTE
  const loginLimit = createRateLimiter({ perSecond: perMinute / 60, burst: perMinute })
  const policy = loginPolicy(config)

  async function startSession(c: Context<AppEnv>, userId: string, email: string, next?: string) {
    const s = await createSession(db, {
      userId,
      ip: c.get('ip'),
      userAgent: c.req.header('user-agent'),
      ttlMs: hours(config.SESSION_TTL_HOURS),
      maxMs: hours(config.SESSION_MAX_HOURS),
    })
    setSessionCookie(c, config, s.token, s.expiresAt)
    await recordSuccess(db, userId)
    await audit(db, c, { action: 'auth.login', target: email, actor: `user:${email}` })
    return c.redirect(safeNext(next), 303)
  }

  app.get('/login', access('public'), async (c) => {
    if (c.get('principal')) return c.redirect('/', 302)
    const setupPending = (await countUsers(db)) === 0
    return c.html(
      <LoginPage next={c.req.query('next')} expired={c.req.query('expired') === '1'} setupPending={setupPending} />,
    )
  })

  app.post('/login', access('public'), validate('form', LoginForm), async (c) => {
    const form = c.req.valid('form')
    try {
      loginLimit(c.get('ip'))
    } catch (error) {
      await audit(db, c, {
        action: 'auth.login_throttled',
        target: form.email,
        actor: 'anonymous',
        summary: 'too many sign-in attempts from this address',
      })
      throw error
    }
    const result = await checkPassword(db, policy, form.email, form.password)
    if (!result.ok) {
      await audit(db, c, {
        action: 'auth.login_failed',
        target: form.email,
        actor: 'anonymous',
        summary: result.error.code,
      })
      for (const [k, v] of Object.entries(result.error.headers ?? {})) c.header(k, v)
      return c.html(
        <LoginPage next={form.next} error={result.error.message} email={form.email} />,
        result.error.status as 401,
      )
    }
    if (result.user.totpEnabledAt)
      return c.html(<SecondFactorPage ticket={issueTicket(deps.sealer, result.user.id)} next={form.next} />)
    return startSession(c, result.user.id, result.user.email, form.next)
  })

  app.post('/login/2fa', access('public'), validate('form', SecondFactorForm), async (c) => {
    const form = c.req.valid('form')
    loginLimit(c.get('ip'))
    const userId = readTicket(deps.sealer, form.ticket)
    if (!userId) return c.html(<LoginPage error="That sign-in took too long; start again" />, 401)
    const user = await getUser(db, userId)
    if (user.lockedUntil && user.lockedUntil > Date.now())
      return c.html(<LoginPage error="Too many failed sign-ins; try again later" />, 429)
    if (!(await verifySecondFactor(db, deps.sealer, user, form.code))) {
      const error = await recordFailure(db, policy, user)
      await audit(db, c, { action: 'auth.2fa_failed', target: user.email, actor: 'anonymous' })
      return c.html(
        <SecondFactorPage
          ticket={form.ticket}
          next={form.next}
          error={error.code === 'account_locked' ? error.message : 'That code is not valid'}
        />,
        error.status as 401,
      )
    }
    return startSession(c, user.id, user.email, form.next)
  })

  app.post('/logout', access('authenticated'), async (c) => {
    const token = getCookie(c, SESSION_COOKIE)
    if (token) await deleteSession(db, token)
    deleteCookie(c, SESSION_COOKIE, { path: '/' })
    await audit(db, c, { action: 'auth.logout' })
    if (c.req.header('hx-request')) return c.body(null, 200, { 'HX-Redirect': '/login' })
    return c.redirect('/login', 303)
  })

  app.get('/setup', access('public'), async (c) => {
    const token = c.req.query('token') ?? ''
    if ((await countUsers(db)) > 0) return c.redirect('/login', 302)
    if (!(await setupTokenValid(db, token)))
      throw new AppError(
        410,
        'setup_link_invalid',
        'This setup link has expired or was already used; restart the server for a new one',
      )
    return c.html(<SetupPage token={token} />)
  })

  app.post(
    '/setup',
    access('public'),
    async (c, next) => {
      // Re-render the form with the reasons instead of a bare error page.
      await next()
      const error = c.error
      if (error instanceof AppError && error.status === 400 && !c.req.header('hx-request')) {
        // The validator caches the parsed FormData itself, not a promise, so `.catch` on it would throw.
        const form = await (async () => c.req.formData())().catch(() => null)
        const token = String(form?.get('token') ?? '')
        c.res = await c.html(
          <SetupPage
            token={token}
            error={error.message}
            details={Array.isArray(error.details) ? error.details : undefined}
          />,
          400,
        )
      }
    },
    validate('form', SetupForm),
    async (c) => {
      const form = c.req.valid('form')
      const user = await completeSetup(db, form.token, { ...form, passwordCost: policy.passwordCost })
      await audit(db, c, {
        action: 'auth.setup',
        target: user.email,
        actor: `user:${user.email}`,
        summary: 'first admin created from the setup link',
      })
      return startSession(c, user.id, user.email, '/')
    },
  )

  return app
}
