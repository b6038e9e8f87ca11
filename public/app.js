// The dashboard's small behaviours, for every page the layout draws: keyboard shortcuts, the global
// search box, one submission per form, and the light/dark toggle. No framework: htmx does the rest.
;(() => {
  const csrf = () => {
    try {
      return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || ''
    } catch {
      return ''
    }
  }
  const flash = (message) => {
    const box = document.getElementById('flash')
    if (!box) return
    const div = document.createElement('div')
    div.className = 'error'
    div.textContent = message
    box.replaceChildren(div)
  }

  // ---- One submission per form ----
  // htmx requests: the form's submit buttons (or the button itself) are disabled while the request
  // runs (hx-disabled-elt, htmx 2) and show a spinner (app.css). An element that says otherwise keeps its own.
  const HX_WRITE = '[hx-post],[hx-put],[hx-patch],[hx-delete]'
  function guard(root) {
    const els = [...(root.matches?.(HX_WRITE) ? [root] : []), ...(root.querySelectorAll?.(HX_WRITE) ?? [])]
    for (const el of els) {
      if (el.hasAttribute('hx-disabled-elt')) continue
      if (el.tagName === 'FORM') el.setAttribute('hx-disabled-elt', 'find button:not([type=button]), find input[type=submit]')
      else if (el.tagName === 'BUTTON' || el.tagName === 'INPUT') el.setAttribute('hx-disabled-elt', 'this')
    }
  }
  // Plain forms (a full page load follows): the button is disabled once the browser sends the form.
  document.addEventListener('submit', (e) => {
    const form = e.target
    if (!(form instanceof HTMLFormElement) || form.matches(HX_WRITE) || e.defaultPrevented) return
    if ((form.method || 'get').toLowerCase() !== 'post') return
    const buttons = form.querySelectorAll('button:not([type=button]), input[type=submit]')
    setTimeout(() => {
      for (const b of buttons) b.disabled = true
    })
  })

  // ---- Shortcuts ----
  const typing = (el) =>
    el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))
  const GO = { a: '/alerts', h: '/healing', m: '/explore' }
  let gAt = 0
  async function acknowledge(row) {
    const id = row.dataset.alert
    if (!id) return
    const res = await fetch(`/alerts/actions/${encodeURIComponent(id)}/acknowledge`, {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf(), 'HX-Request': 'true' },
    })
    if (res.ok) {
      // The stream tells every tab; this one refreshes at once.
      document.body.dispatchEvent(new CustomEvent('live:alerts', { detail: { ids: [id], more: false } }))
      return
    }
    const text = await res.text()
    const doc = new DOMParser().parseFromString(text, 'text/html')
    flash(doc.querySelector('strong')?.textContent || `Acknowledge failed (${res.status})`)
  }
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return
    const dialog = document.getElementById('shortcuts')
    if (dialog?.open) return
    const now = Date.now()
    if (now - gAt < 1500 && GO[e.key]) {
      gAt = 0
      e.preventDefault()
      location.assign(GO[e.key])
      return
    }
    if (e.key === 'g') {
      gAt = now
      return
    }
    gAt = 0
    if (e.key === '?') {
      e.preventDefault()
      dialog?.showModal()
    } else if (e.key === '/') {
      const search = document.getElementById('search')
      if (search) {
        e.preventDefault()
        search.focus()
        search.select()
      }
    } else if (e.key === 'a') {
      const row = document.activeElement?.closest?.('[data-alert]')
      if (row) {
        e.preventDefault()
        acknowledge(row)
      }
    }
  })
  // A list that refreshed under the keyboard keeps the focused row focused.
  let focusedAlert = null
  document.addEventListener('focusin', (e) => {
    focusedAlert = e.target?.closest?.('[data-alert]')?.dataset.alert ?? null
  })
  document.addEventListener('htmx:load', (e) => guard(e.target))
  // On swap, not settle: between the two the focus sits on <body> for htmx's settle delay.
  document.addEventListener('htmx:afterSwap', () => {
    if (!focusedAlert || document.activeElement !== document.body) return
    document.querySelector(`[data-alert="${CSS.escape(focusedAlert)}"]`)?.focus()
  })

  // ---- Search: Escape closes the results, the arrow keys walk them ----
  document.addEventListener('keydown', (e) => {
    const results = document.getElementById('search-results')
    if (!results?.contains(e.target) && e.target?.id !== 'search') return
    if (e.key === 'Escape') {
      results.replaceChildren()
      document.getElementById('search')?.blur()
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const links = [...results.querySelectorAll('a')]
      if (!links.length) return
      e.preventDefault()
      const at = links.indexOf(document.activeElement)
      const next = e.key === 'ArrowDown' ? Math.min(at + 1, links.length - 1) : at - 1
      if (next < 0) document.getElementById('search')?.focus()
      else links[next].focus()
    }
  })

  document.addEventListener('click', (e) => {
    if (e.target?.closest?.('#shortcuts-open')) document.getElementById('shortcuts')?.showModal()
  })

  // ---- Light/dark: the opposite of what shows now, kept for the user ----
  document.addEventListener('click', async (e) => {
    const button = e.target?.closest?.('#theme-toggle')
    if (!button) return
    const root = document.documentElement
    const dark = root.dataset.theme ? root.dataset.theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches
    const theme = dark ? 'light' : 'dark'
    root.dataset.theme = theme
    button.setAttribute('aria-pressed', String(theme === 'dark'))
    const res = await fetch('/settings/theme', {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf(), 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
      body: new URLSearchParams({ theme }),
    })
    if (!res.ok) flash(`Could not keep the theme (${res.status})`)
  })

  const start = () => guard(document)
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
  else start()
})()
