/*
 * The explorer's view as an address and back, with no page access: parse(search) reads
 * /explore?name=…&match[agent]=…&agg=…&by=…&range=6h (or from=…&to=…)&step=…, search(view) writes
 * it (and, given a window and a step, the same parameters for the query and export API).
 * window.HomeostatView = { parse, search, timeWindow, stepFor, durationText, parseMatchers, … }
 */
;(function () {
  'use strict'

  var MIN = 60000
  var PRESETS = { '15m': 15 * MIN, '1h': 60 * MIN, '6h': 360 * MIN, '24h': 1440 * MIN, '7d': 7 * 1440 * MIN, '30d': 30 * 1440 * MIN, '90d': 90 * 1440 * MIN }
  var DEFAULT_RANGE = '1h'
  var AGGS = ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99', 'rate']
  var TARGET_POINTS = 300
  // Steps the auto choice snaps to; whole minutes, hours and days let the API read rollups.
  var NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map(function (s) {
    return s * 1000
  })
  var UNITS = { ms: 1, s: 1000, m: MIN, h: 60 * MIN, d: 1440 * MIN }
  var DURATION = /^(\d+)(ms|s|m|h|d)?$/
  var LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

  function durationMs(text) {
    var m = DURATION.exec(text)
    return m ? Number(m[1]) * UNITS[m[2] || 'ms'] : null
  }
  function durationText(ms) {
    var order = ['d', 'h', 'm', 's']
    for (var i = 0; i < order.length; i++) if (ms % UNITS[order[i]] === 0) return ms / UNITS[order[i]] + order[i]
    return String(ms)
  }
  function parseTime(text) {
    if (!text) return null
    var n = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
    return isFinite(n) ? n : null
  }
  function iso(ms) {
    return new Date(Math.round(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
  }
  var enc = function (v) {
    return encodeURIComponent(v).replace(/%3A/gi, ':').replace(/%2C/gi, ',')
  }

  /** `agent=planner, model="a,b"` -> {pairs: [[k, v], …]} or {error}. */
  function parseMatchers(text) {
    var pairs = []
    var re = /\s*([^=,\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*?)\s*(?:,|$)/y
    var rest = text.trim()
    if (!rest) return { pairs: pairs }
    re.lastIndex = 0
    while (re.lastIndex < rest.length) {
      var at = re.lastIndex
      var m = re.exec(rest)
      if (!m || m[0] === '') return { error: 'Labels: write label=value pairs separated by commas (near "' + rest.slice(at, at + 20) + '")' }
      if (!LABEL.test(m[1])) return { error: 'Labels: "' + m[1] + '" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)' }
      var value = m[2]
      if (value.charAt(0) === '"') {
        try {
          value = JSON.parse(value)
        } catch (e) {
          return { error: 'Labels: ' + value + ' is not a valid quoted value' }
        }
      }
      pairs = pairs.filter(function (p) {
        return p[0] !== m[1]
      })
      pairs.push([m[1], value])
    }
    return { pairs: pairs }
  }
  function matchersText(pairs) {
    return pairs
      .map(function (p) {
        return p[0] + '=' + (/[",]/.test(p[1]) ? JSON.stringify(p[1]) : p[1])
      })
      .join(',')
  }

  function parse(search) {
    var q = new URLSearchParams(search)
    var s = { name: (q.get('name') || '').trim(), match: [], agg: q.get('agg') || 'avg', by: (q.get('by') || '').replace(/\s+/g, ''), range: q.get('range'), from: parseTime(q.get('from')), to: parseTime(q.get('to')), step: (q.get('step') || '').trim() }
    q.forEach(function (value, key) {
      var m = /^match\[([a-zA-Z_][a-zA-Z0-9_]*)\]$/.exec(key)
      if (m) s.match.push([m[1], value])
    })
    if (q.get('match')) s.match = s.match.concat(parseMatchers(q.get('match')).pairs || []) // the form sent without the script
    if (AGGS.indexOf(s.agg) < 0) s.agg = 'avg'
    if (s.from !== null && s.to === null) s.to = Date.now()
    if (!PRESETS[s.range]) s.range = s.from !== null && s.from < s.to ? null : DEFAULT_RANGE
    if (s.range) s.from = s.to = null
    return s
  }

  function search(s, win, step) {
    var out = []
    if (s.name) out.push('name=' + enc(s.name))
    s.match.forEach(function (p) {
      out.push('match[' + p[0] + ']=' + enc(p[1]))
    })
    if (s.agg) out.push('agg=' + s.agg)
    if (s.by) out.push('by=' + enc(s.by))
    if (win) out.push('from=' + iso(win.from), 'to=' + iso(win.to))
    else if (s.range) out.push('range=' + s.range)
    else out.push('from=' + iso(s.from), 'to=' + iso(s.to))
    if (step) out.push('step=' + step)
    else if (s.step) out.push('step=' + enc(s.step))
    return out.join('&')
  }

  function timeWindow(s) {
    if (!s.range) return { from: s.from, to: s.to }
    var to = Date.now()
    return { from: to - PRESETS[s.range], to: to }
  }
  function stepFor(s, win) {
    var fixed = s.step && durationMs(s.step)
    if (fixed) return fixed
    var raw = (win.to - win.from) / TARGET_POINTS
    for (var i = 0; i < NICE.length; i++) if (NICE[i] >= raw) return NICE[i]
    return NICE[NICE.length - 1]
  }

  window.HomeostatView = {
    PRESETS: PRESETS,
    LABEL: LABEL,
    parse: parse,
    search: search,
    timeWindow: timeWindow,
    stepFor: stepFor,
    durationMs: durationMs,
    durationText: durationText,
    parseTime: parseTime,
    parseMatchers: parseMatchers,
    matchersText: matchersText,
  }
})()
