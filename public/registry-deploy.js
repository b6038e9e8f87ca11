// The deploy panel's live progress: when the deploy button's answer arrives, follow the deployment's
// server-sent events (/api/v1/deployments/:id/events) and show each progress line, then the outcome.
;(() => {
  const follow = (run) => {
    if (run.dataset.following) return
    run.dataset.following = '1'
    const lines = run.querySelector('.deploy-lines')
    const state = run.querySelector('.deploy-state')
    const source = new EventSource(run.dataset.deployEvents)
    const add = (text) => {
      const li = document.createElement('li')
      li.textContent = text
      lines.appendChild(li)
    }
    source.addEventListener('status', (e) => add(JSON.parse(e.data).status))
    source.addEventListener('done', (e) => {
      const d = JSON.parse(e.data).deployment
      state.textContent = `Deployed ${d.version} to ${d.host}: live`
      state.className = 'deploy-state ok'
      run.dataset.outcome = 'succeeded'
      source.close()
    })
    source.addEventListener('failed', (e) => {
      const body = JSON.parse(e.data)
      state.textContent = `Deploy failed: ${body.error ?? body.deployment?.error ?? 'unknown error'}`
      state.className = 'deploy-state error'
      run.dataset.outcome = 'failed'
      source.close()
    })
  }
  const scan = () => document.querySelectorAll('[data-deploy-events]').forEach(follow)
  document.addEventListener('htmx:afterSwap', scan)
  document.addEventListener('DOMContentLoaded', scan)
})()
