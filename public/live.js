// Live updates for the dashboard: ONE EventSource per tab on /events. Each event becomes a DOM event
// `live:<topic>` on document.body (detail: { ids, more }); widgets refresh on it with
// hx-trigger="live:alerts from:body". While the stream is down, the same events are dispatched on a
// timer (polling, detail.more = true), and the stream is tried again; once it is open (the first time
// too), one round of events catches the page up on what it missed. <html data-live> says which mode is on.
;(() => {
  const TOPICS = ['alerts', 'healing', 'runs', 'components', 'metrics', 'backups', 'n8n']
  const meta = (name, fallback) => Number(document.querySelector(`meta[name="${name}"]`)?.content) || fallback
  // How often widgets refresh while the stream is down, and how long before the stream is tried again.
  const POLL_MS = meta('live-poll-ms', 5000)
  const RETRY_MS = meta('live-retry-ms', 5000)
  let source = null
  let pollTimer = null
  let retryTimer = null
  let missed = false

  const dispatch = (topic, detail) => document.body.dispatchEvent(new CustomEvent(`live:${topic}`, { detail }))
  const everything = () => {
    for (const topic of TOPICS) dispatch(topic, { ids: [], more: true })
  }
  const mode = (m) => {
    document.documentElement.dataset.live = m
    const label = document.getElementById('live-state')
    if (label) label.textContent = m === 'stream' ? 'Live' : 'Polling'
  }

  function polling() {
    mode('polling')
    missed = true
    if (!pollTimer) pollTimer = setInterval(everything, POLL_MS)
  }

  function connect() {
    retryTimer = null
    source = new EventSource('/events')
    source.addEventListener('ready', () => {
      clearInterval(pollTimer)
      pollTimer = null
      mode('stream')
      // Changes made while the stream was down were only seen by polling: refresh once now.
      if (missed) everything()
      missed = false
    })
    for (const topic of TOPICS) {
      source.addEventListener(topic, (e) => {
        let detail = { ids: [], more: true }
        try {
          detail = JSON.parse(e.data)
        } catch {
          // a malformed event still means "something changed"
        }
        dispatch(topic, detail)
      })
    }
    source.onerror = () => {
      polling()
      // The browser retries a dropped connection by itself; a refused one (401, 503) stays closed.
      if (source.readyState === EventSource.CLOSED && !retryTimer) retryTimer = setTimeout(connect, RETRY_MS)
    }
  }

  const start = () => {
    if (!document.body.hasAttribute('data-live-updates')) return
    // Polling until the stream is ready, and `missed` stays set: a change made between the server
    // rendering this page and the stream opening was never sent to it, so the first `ready` refreshes once.
    polling()
    connect()
  }
  window.addEventListener('pagehide', () => source?.close())
  // Back to a page kept in the browser's cache: its stream was closed on the way out.
  window.addEventListener('pageshow', (e) => {
    if (e.persisted && source?.readyState === EventSource.CLOSED) connect()
  })
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
  else start()
})()
