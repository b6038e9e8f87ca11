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

function Head({ title, live }: { title: string; live?: boolean }) {
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
      <script src="/static/app.js" defer></script>
      {live ? <script src="/static/live.js" defer></script> : null}
    </head>
  )
}

/** The dashboard shell: navigation, the signed-in user, a flash area for errors, and the page. */
export function Layout(props: { title: string; active: string; principal: Principal; children: Child }) {
  const p = props.principal
  return (
    <html lang="en" data-theme={p.theme}>
      <Head title={props.title} live />
      <body hx-headers={JSON.stringify({ 'X-CSRF-Token': p.csrfToken ?? '' })} data-live-updates>
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
          <SearchBox />
          <div class="who">
            <span
              class="live-state"
              id="live-state"
              role="status"
              title="Live updates: stream, or polling while it is down"
            >
              Connecting
            </span>
            <button
              type="button"
              class="icon-button"
              id="theme-toggle"
              aria-label="Dark theme"
              aria-pressed={p.theme === 'dark' ? 'true' : p.theme === 'light' ? 'false' : undefined}
              title="Switch light/dark (kept for your account)"
            >
              ◐
            </button>
            <button
              type="button"
              class="icon-button"
              aria-label="Keyboard shortcuts"
              title="Keyboard shortcuts (?)"
              id="shortcuts-open"
            >
              ?
            </button>
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
        <Shortcuts />
      </body>
    </html>
  )
}

/** The global search (GET /search): results drop down under the box as you type; Enter opens the full page. */
function SearchBox() {
  return (
    <form class="search" role="search" action="/search" method="get">
      <label class="sr-only" for="search">
        Search alerts, components, rules and metrics
      </label>
      <input
        id="search"
        name="q"
        type="search"
        placeholder="Search ( / )"
        autocomplete="off"
        maxlength={100}
        hx-get="/search"
        hx-trigger="input changed delay:250ms, search"
        hx-target="#search-results"
        hx-swap="innerHTML"
        aria-controls="search-results"
      />
      <div id="search-results" class="search-results" aria-live="polite"></div>
    </form>
  )
}

export const shortcuts = [
  ['?', 'Show this list'],
  ['/', 'Search'],
  ['g a', 'Go to Alerts'],
  ['g h', 'Go to Healing'],
  ['g m', 'Go to Metrics'],
  ['a', 'Acknowledge the focused alert (Alerts list; Tab to a row)'],
  ['Esc', 'Close this list or the search results'],
] as const

function Shortcuts() {
  return (
    <dialog id="shortcuts" class="shortcuts" aria-labelledby="shortcuts-title">
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <dl>
        {shortcuts.map(([keys, what]) => (
          <>
            <dt>
              {keys.split(' ').map((k) => (
                <kbd>{k}</kbd>
              ))}
            </dt>
            <dd>{what}</dd>
          </>
        ))}
      </dl>
      <form method="dialog">
        <button type="submit" class="secondary">
          Close
        </button>
      </form>
    </dialog>
  )
}

/**
 * The hx-trigger of a widget that refreshes when its topic changes (public/live.js dispatches
 * `live:<topic>` on body; polling stands in while the stream is down). `id`: only events naming it
 * (or too many to name) refresh; `every`: a slow poll besides, for changes another instance made.
 */
export function liveTrigger(topic: string, opts: { id?: boolean; every?: string; throttle?: string } = {}) {
  const filter = opts.id ? '[detail.more||detail.ids.includes(this.dataset.liveId)]' : ''
  const throttle = opts.throttle ? ` throttle:${opts.throttle}` : ''
  return `live:${topic}${filter} from:body${throttle}${opts.every ? `, every ${opts.every}` : ''}`
}

/**
 * A part of a page that reloads itself from its page (`src`, picked out by its id) when its topic
 * changes; `liveId`: only when events name it. Its children inherit none of its hx-* attributes.
 */
export function LiveRegion(props: {
  id: string
  src: string
  topic: string
  liveId?: string
  every?: string
  throttle?: string
  children: Child
}) {
  return (
    <div
      id={props.id}
      hx-get={props.src}
      hx-select={`#${props.id}`}
      hx-target="this"
      hx-swap="outerHTML"
      hx-trigger={liveTrigger(props.topic, { id: !!props.liveId, every: props.every, throttle: props.throttle })}
      hx-disinherit="*"
      data-live-id={props.liveId}
    >
      {props.children}
    </div>
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
