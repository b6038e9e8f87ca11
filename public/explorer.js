/*
 * The metrics explorer (/explore). The address holds the whole view —
 *   /explore?name=llm_latency_ms&match[agent]=planner&agg=p95&by=model&range=6h
 *   /explore?name=llm_latency_ms&agg=avg&from=2025-01-01T10:00:00Z&to=2025-01-01T12:00:00Z&step=1m
 * — so a view can be shared and reloads the same. Changes of view (controls, zoom, pan) push a
 * history entry, so Back and Forward step through them; fixing up the address only replaces it.
 * Data comes from GET /api/v1/metrics/query (the session cookie authenticates it); the chart is
 * drawn by public/explorer-chart.js over the vendored uPlot.
 */
;(function () {
  'use strict'

  var V = window.HomeostatView
  var PRESETS = V.PRESETS
  var LABEL = V.LABEL
  var parse = V.parse
  var search = V.search
  var timeWindow = V.timeWindow
  var stepFor = V.stepFor
  var durationMs = V.durationMs
  var durationText = V.durationText
  var parseTime = V.parseTime
  var parseMatchers = V.parseMatchers
  var matchersText = V.matchersText

  var $ = function (sel) {
    return document.querySelector(sel)
  }
  var form = $('#explorer')
  var fields = {}
  ;['name', 'match', 'agg', 'by', 'from', 'to', 'step'].forEach(function (n) {
    fields[n] = form.elements.namedItem(n)
  })
  var box = $('#chart')
  var message = $('#chart-message')
  var statusLine = $('#chart-status')
  var controlsError = $('#controls-error')
  var chart = window.HomeostatChart.create(box, { onZoom: zoomTo })

  var state = parse(location.search)
  var base = history.state && history.state.base // the view before zooming and panning, for Reset
  var inflight = null
  var startedAt = 0
  var MAX_SERIES = 50 // drawn; more is unreadable and slow, and the status line says so
  var names = null // [{name, series, lastSeenAt}] from /api/v1/metrics/series
  var labelInfo = { name: null, keys: [], pairs: [] }

  /** Shows `next`: the address (a new history entry, or the current one replaced), the controls, the data. */
  function go(next, how) {
    state = next
    var url = '/explore?' + search(state)
    if (how === 'push' && url !== location.pathname + location.search) history.pushState({ base: base || null }, '', url)
    else history.replaceState({ base: base || null }, '', url)
    showControls()
    load()
  }

  // ---- controls ---------------------------------------------------------------------------------

  var pad = function (n) {
    return String(n).padStart(2, '0')
  }
  function localInput(ms) {
    var d = new Date(ms)
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds())
  }

  function showControls() {
    fields.name.value = state.name
    fields.match.value = matchersText(state.match)
    fields.agg.value = state.agg
    fields.by.value = state.by
    fields.step.value = state.step
    fields.from.value = state.range ? '' : localInput(state.from)
    fields.to.value = state.range ? '' : localInput(state.to)
    form.querySelectorAll('.preset').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.value === state.range))
    })
    $('[data-act="reset"]').disabled = !base && !!state.range
    $('[data-act="later"]').disabled = !!state.range
    controlsError.hidden = true
  }

  /** The view the controls describe, or null after saying what is wrong with them. */
  function readControls(custom) {
    var problems = []
    var m = parseMatchers(fields.match.value)
    if (m.error) problems.push(m.error)
    var by = fields.by.value.replace(/\s+/g, '')
    if (by && !by.split(',').every(function (k) { return LABEL.test(k) })) problems.push('Group by: label names separated by commas')
    var step = fields.step.value.trim()
    if (step && !durationMs(step)) problems.push('Step: a duration like 30s, 5m, 1h or 1d, or empty for automatic')
    var next = { name: fields.name.value.trim(), match: m.pairs || [], agg: fields.agg.value, by: by, range: state.range, from: state.from, to: state.to, step: step }
    if (custom && (fields.from.value || fields.to.value)) {
      var from = parseTime(fields.from.value)
      var to = fields.to.value ? parseTime(fields.to.value) : Date.now()
      if (from === null || to === null || from >= to) problems.push('From and To: a start before the end')
      else Object.assign(next, { range: null, from: from, to: to })
    }
    controlsError.textContent = problems.join(' · ')
    controlsError.hidden = !problems.length
    return problems.length ? null : next
  }

  function apply(custom) {
    var next = readControls(custom)
    if (!next) return
    // Enter in a field fires its change and then the form's submit: one fetch for both.
    if (search(next) === search(state) && Date.now() - startedAt < 1000) return
    if (next.range !== state.range || next.from !== state.from || next.to !== state.to) base = null
    go(next, 'push')
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault()
    apply(true)
  })
  form.querySelectorAll('.preset').forEach(function (b) {
    b.addEventListener('click', function () {
      var next = readControls(false)
      if (!next) return
      base = null
      go(Object.assign(next, { range: b.value, from: null, to: null }), 'push')
    })
  })
  ;['name', 'agg', 'match', 'by', 'step'].forEach(function (field) {
    fields[field].addEventListener('change', function () {
      apply(false)
    })
  })
  fields.match.addEventListener('input', suggestLabels)
  fields.by.addEventListener('input', suggestLabels)

  // ---- zoom and pan -----------------------------------------------------------------------------

  function moveTo(from, to) {
    if (to - from < 2000) return
    if (!base) base = Object.assign({}, state)
    var sec = function (ms) { return Math.round(ms / 1000) * 1000 } // what the address and the From/To fields hold
    go(Object.assign({}, state, { range: null, from: sec(from), to: sec(to) }), 'push')
  }
  function zoomTo(from, to) {
    moveTo(from, to)
  }
  var actions = {
    earlier: function (w, span) { moveTo(w.from - span / 2, w.to - span / 2) },
    later: function (w, span) {
      var shift = Math.min(span / 2, Date.now() - w.to)
      if (shift > 0) moveTo(w.from + shift, w.to + shift)
    },
    'zoom-in': function (w, span) { moveTo(w.from + span / 4, w.to - span / 4) },
    'zoom-out': function (w, span) {
      var to = Math.min(Date.now(), w.to + span / 2)
      moveTo(to - span * 2, to)
    },
    reset: function (w) {
      if (base) {
        var back = base
        base = null
        return go(back, 'push')
      }
      var span = Date.now() - w.from
      var fit = Object.keys(PRESETS).filter(function (r) { return PRESETS[r] >= span })[0] || '90d'
      go(Object.assign({}, state, { range: fit, from: null, to: null }), 'push')
    },
  }
  document.querySelectorAll('[data-act]').forEach(function (b) {
    b.addEventListener('click', function () {
      var w = timeWindow(state)
      actions[b.dataset.act](w, w.to - w.from)
    })
  })

  window.addEventListener('popstate', function (e) {
    state = parse(location.search)
    base = e.state && e.state.base
    showControls()
    load()
  })

  // ---- data -------------------------------------------------------------------------------------

  function say(kind, nodes) {
    box.dataset.state = kind
    message.replaceChildren.apply(message, nodes)
  }
  function el(tag, attrs, children) {
    var n = document.createElement(tag)
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') n.textContent = attrs[k]
      else n.setAttribute(k, attrs[k])
    })
    ;(children || []).forEach(function (c) {
      n.append(c)
    })
    return n
  }
  /** The export endpoint takes the chart's parameters; without step and agg it gives raw points. */
  function setExport(query, raw) {
    ;[['csv', query], ['json', query], ['raw', raw]].forEach(function (x) {
      var a = $('#export-' + x[0])
      if (x[1]) {
        a.href = '/api/v1/metrics/export?format=' + (x[0] === 'json' ? 'json' : 'csv') + '&' + x[1]
        a.removeAttribute('aria-disabled')
      } else {
        a.href = '#'
        a.setAttribute('aria-disabled', 'true')
      }
    })
  }
  function describeWindow(win) {
    var f = function (ms) { return new Date(ms).toLocaleString() }
    return state.range ? 'the last ' + state.range : f(win.from) + ' – ' + f(win.to)
  }

  function noMetric() {
    chart.clear()
    setExport(null)
    statusLine.textContent = ''
    var known = (names || []).slice(0, 40)
    var pick = known.map(function (n) {
      var q = Object.assign({}, state, { name: n.name })
      return el('li', {}, [el('a', { href: '/explore?' + search(q), text: n.name }), ' ', el('span', { class: 'muted', text: n.series + ' series' })])
    })
    say('idle', [
      el('div', { class: 'empty' }, [
        el('p', { text: names && !names.length ? 'No metrics recorded yet. Push some with POST /api/v1/metrics (JSON or Prometheus text), remote write, or a component check, and they appear here.' : 'Choose a metric above to draw its chart.' }),
        pick.length ? el('ul', { class: 'metric-list' }, pick) : '',
      ]),
    ])
  }

  function load() {
    if (inflight) inflight.abort()
    inflight = null
    if (!state.name) return noMetric()
    var win = timeWindow(state)
    var step = stepFor(state, win)
    var query = search(state, win, durationText(step))
    setExport(query, search(Object.assign({}, state, { agg: null, by: '', step: '' }), win))
    loadLabels(state.name)
    box.dataset.state = 'loading'
    statusLine.textContent = 'Loading…'
    var ctl = (inflight = new AbortController())
    startedAt = Date.now()
    fetch('/api/v1/metrics/query?' + query, { headers: { Accept: 'application/json' }, signal: ctl.signal })
      .then(function (res) {
        return res.json().then(function (body) {
          return { ok: res.ok, status: res.status, body: body }
        }, function () {
          return { ok: false, status: res.status, body: { error: { message: 'The server answered ' + res.status + ' without a JSON body' } } }
        })
      })
      .then(function (r) {
        if (ctl.signal.aborted) return
        inflight = null
        box.dataset.query = query
        box.dataset.loads = String(Number(box.dataset.loads || 0) + 1)
        if (!r.ok) return failed(r.body.error || {}, r.status)
        var result = r.body
        var points = result.series.reduce(function (n, s) { return n + s.values.length }, 0)
        if (!points) {
          chart.clear()
          statusLine.textContent = ''
          return say('empty', [el('p', { class: 'empty', text: 'No data for ' + state.name + (state.match.length ? ' {' + matchersText(state.match) + '}' : '') + ' in ' + describeWindow(win) + '. Try a longer range, other labels, or another metric.' })])
        }
        say('ready', [])
        var total = result.series.length
        var shown = Object.assign({}, result, { series: result.series.slice(0, MAX_SERIES) })
        chart.draw(shown, { from: Date.parse(result.from), to: win.to })
        statusLine.textContent =
          (total > MAX_SERIES ? 'first ' + MAX_SERIES + ' of ' + total + ' series (narrow with labels or group by)' : total + ' series') +
          ' · ' + points + ' points · step ' + durationText(result.step) + ' · ' + (result.resolution === 'raw' ? 'raw points' : result.resolution + ' rollups')
      })
      .catch(function (err) {
        if (ctl.signal.aborted) return
        inflight = null
        failed({ message: 'Could not reach the server: ' + err.message }, 0)
      })
  }

  function failed(error, status) {
    chart.clear()
    statusLine.textContent = ''
    var details = Array.isArray(error.details) ? error.details : []
    var signIn = status === 401 ? [' ', el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search), text: 'Sign in again' })] : []
    say('error', [
      el('div', { class: 'error' }, [
        el('strong', { text: error.message || 'The query failed (' + status + ')' }),
        ...signIn,
        details.length ? el('ul', {}, details.map(function (d) { return el('li', {}, [el('code', { text: d.field }), ': ' + d.message]) })) : '',
      ]),
    ])
  }

  // ---- suggestions ------------------------------------------------------------------------------

  function options(list, values) {
    list.replaceChildren.apply(list, values.map(function (v) { return el('option', typeof v === 'string' ? { value: v } : v) }))
  }
  function loadNames() {
    fetch('/api/v1/metrics/series?limit=1', { headers: { Accept: 'application/json' } })
      .then(function (res) { return res.ok ? res.json() : { names: [] } })
      .then(function (body) {
        names = body.names || []
        options($('#metric-names'), names.map(function (n) { return { value: n.name, label: n.series + ' series' } }))
        if (!state.name) noMetric()
      })
      .catch(function () {})
  }
  function loadLabels(name) {
    if (labelInfo.name === name) return
    labelInfo = { name: name, keys: [], pairs: [] }
    fetch('/api/v1/metrics/series?limit=500&name=' + encodeURIComponent(name), { headers: { Accept: 'application/json' } })
      .then(function (res) { return res.ok ? res.json() : { items: [] } })
      .then(function (body) {
        if (labelInfo.name !== name) return
        var keys = {}
        var pairs = {}
        body.items.forEach(function (s) {
          Object.keys(s.labels).forEach(function (k) {
            keys[k] = true
            pairs[matchersText([[k, s.labels[k]]])] = true
          })
        })
        labelInfo.keys = Object.keys(keys).sort()
        labelInfo.pairs = Object.keys(pairs).sort().slice(0, 300)
        suggestLabels()
      })
      .catch(function () {})
  }
  /** Suggestions complete the last item of a comma-separated list, keeping what is before it. */
  function suggestLabels() {
    ;[[fields.match, '#label-pairs', labelInfo.pairs], [fields.by, '#label-keys', labelInfo.keys]].forEach(function (x) {
      var text = x[0].value
      var head = text.slice(0, text.lastIndexOf(',') + 1)
      options($(x[1]), x[2].filter(function (p) { return head.split(',').indexOf(p) < 0 }).map(function (p) { return head + p }))
    })
  }

  history.replaceState({ base: base || null }, '', '/explore' + (location.search ? '?' + search(state) : ''))
  showControls()
  loadNames()
  load()
})()
