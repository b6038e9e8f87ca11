/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx'
import type { Principal } from '../context.ts'

export const nav = [
  { href: '/', label: 'Overview' },
  { href: '/components', label: 'Components' },
  { href: '/explore', label: 'Metrics' },
  { href: '/alerts', label: 'Alerts' },
  { href: '/healing', label: 'Healing' },
  { href: '/backups', label: 'Backups' },
  { href: '/n8n', label: 'n8n' },
  { href: '/models', label: 'Models' },
  { href: '/prompts', label: 'Prompts' },
  { href: '/runs', label: 'Runs' },
  { href: '/status-pages', label: 'Status pages' },
  { href: '/settings', label: 'Settings' },
] as const

// htmx 2 does not swap 4xx/5xx by default; error fragments are retargeted to #flash instead.
const htmxConfig = JSON.stringify({
  responseHandling: [
    { code: '204', swap: false },
    { code: '[23]..', swap: true },
    { code: '[45]..', swap: true, error: true },
  ],
})

function Head({ title }: { title: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <meta name="htmx-config" content={htmxConfig} />
      <title>{`${title} · Homeostat`}</title>
      <link rel="icon" href="/static/icon.svg" type="image/svg+xml" />
      <link rel="stylesheet" href="/static/app.css" />
      <script src="/static/vendor/htmx.min.js" defer></script>
    </head>
  )
}

/** The dashboard shell: navigation, the signed-in user, a flash area for errors, and the page. */
export function Layout(props: { title: string; active: string; principal: Principal; children: Child }) {
  const p = props.principal
  return (
    <html lang="en">
      <Head title={props.title} />
      <body hx-headers={JSON.stringify({ 'X-CSRF-Token': p.csrfToken ?? '' })}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="topbar">
          <a class="brand" href="/">
            <img src="/static/icon.svg" alt="" width="22" height="22" /> Homeostat
          </a>
          <details class="menu">
            <summary aria-label="Menu">☰</summary>
            <nav aria-label="Menu">
              <NavLinks active={props.active} />
            </nav>
          </details>
          <div class="who">
            <span title={p.role}>{p.name}</span>
            <form method="post" action="/logout" hx-post="/logout">
              <input type="hidden" name="_csrf" value={p.csrfToken ?? ''} />
              <button type="submit" class="link">
                Sign out
              </button>
            </form>
          </div>
        </header>
        <div class="frame">
          <nav class="side" aria-label="Main">
            <NavLinks active={props.active} />
          </nav>
          <main id="main" tabindex={-1}>
            <div id="flash" role="alert" aria-live="polite"></div>
            {props.children}
          </main>
        </div>
      </body>
    </html>
  )
}

function NavLinks({ active }: { active: string }) {
  return (
    <ul>
      {nav.map((item) => (
        <li>
          <a href={item.href} aria-current={item.href === active ? 'page' : undefined}>
            {item.label}
          </a>
        </li>
      ))}
      <li>
        <a href="/docs" aria-current={active === '/docs' ? 'page' : undefined}>
          API docs
        </a>
      </li>
    </ul>
  )
}

/** Pages shown before sign-in: login, setup, two-factor step. */
export function Bare(props: { title: string; children: Child }) {
  return (
    <html lang="en">
      <Head title={props.title} />
      <body class="bare">
        <main id="main" class="card narrow">
          <h1 class="brand">
            <img src="/static/icon.svg" alt="" width="28" height="28" /> Homeostat
          </h1>
          <div id="flash" role="alert" aria-live="polite"></div>
          {props.children}
        </main>
      </body>
    </html>
  )
}

export function ErrorBox({ message, details }: { message: string; details?: { field: string; message: string }[] }) {
  return (
    <div class="error">
      <strong>{message}</strong>
      {details?.length ? (
        <ul>
          {details.map((d) => (
            <li>
              <code>{d.field}</code>: {d.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  )
}

export const Empty = ({ children }: { children: Child }) => <p class="empty">{children}</p>

/** Links to a section's sub-pages, the current one marked. */
export const TabNav = ({
  label,
  tabs,
  active,
}: {
  label: string
  tabs: readonly { href: string; label: string }[]
  active: string
}) => (
  <nav class="tabs" aria-label={label}>
    {tabs.map((t) => (
      <a href={t.href} aria-current={t.href === active ? 'page' : undefined}>
        {t.label}
      </a>
    ))}
  </nav>
)

export const when = (ms: number | null | undefined) =>
  ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—'
