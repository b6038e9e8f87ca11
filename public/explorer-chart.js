/*
 * The explorer's chart: a thin layer over the vendored uPlot (public/vendor/uPlot.iife.min.js).
 * Series colours and axes follow the page's colour scheme (light or dark, live), the chart follows
 * the width of its box, a drag across it reports a time window to zoom to, and a finger on a
 * touch screen moves the cursor so the legend shows the values under it.
 *
 * window.HomeostatChart.create(el, { onZoom(fromMs, toMs) }) -> { draw(result, window), clear() }
 */
;(function () {
  'use strict'

  var LIGHT = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4b5563']
  var DARK = ['#60a5fa', '#fbbf24', '#34d399', '#f87171', '#a78bfa', '#22d3ee', '#f472b6', '#a3e635', '#fb923c', '#cbd5e1']
  var dark = window.matchMedia('(prefers-color-scheme: dark)')

  function theme() {
    var css = getComputedStyle(document.documentElement)
    var v = function (name, fallback) {
      return css.getPropertyValue(name).trim() || fallback
    }
    return { fg: v('--fg', '#14171c'), muted: v('--muted', '#5c6470'), line: v('--line', '#dde1e7'), palette: dark.matches ? DARK : LIGHT }
  }

  /** 1234.5 -> "1.23k"; small and negative numbers keep their significant digits. */
  function compact(n) {
    if (n == null || !isFinite(n)) return '—'
    var a = Math.abs(n)
    var units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]
    for (var i = 0; i < units.length; i++) if (a >= units[i][0]) return +(n / units[i][0]).toPrecision(3) + units[i][1]
    if (a === 0) return '0'
    return a >= 0.01 ? String(+n.toPrecision(4)) : n.toExponential(2)
  }

  /** A legend value: plain up to a million, compact after. */
  function plain(n) {
    if (n == null || !isFinite(n)) return '—'
    return Math.abs(n) >= 1e6 ? compact(n) : String(+n.toPrecision(6))
  }

  var pad = function (n) {
    return String(n).padStart(2, '0')
  }
  function stamp(sec) {
    var d = new Date(sec * 1000)
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds())
  }

  /** Labels that tell the series apart: those whose values differ; the metric name when one series. */
  function legendLabels(list, name) {
    var keys = {}
    list.forEach(function (s) {
      Object.keys(s.labels).forEach(function (k) {
        keys[k] = true
      })
    })
    var varying = Object.keys(keys)
      .sort()
      .filter(function (k) {
        return list.some(function (s) {
          return (s.labels[k] || '') !== (list[0].labels[k] || '')
        })
      })
    return list.map(function (s) {
      var shown = varying.length ? varying : Object.keys(s.labels).sort()
      var text = shown
        .map(function (k) {
          return k + '=' + (s.labels[k] || '""')
        })
        .join(', ')
      return text || name
    })
  }

  /** uPlot wants one x array and a y array per series, aligned (null where a series has no bucket). */
  function align(result) {
    var xs = {}
    result.series.forEach(function (s) {
      s.values.forEach(function (p) {
        xs[Date.parse(p[0]) / 1000] = true
      })
    })
    var x = Object.keys(xs)
      .map(Number)
      .sort(function (a, b) {
        return a - b
      })
    var at = {}
    x.forEach(function (t, i) {
      at[t] = i
    })
    var ys = result.series.map(function (s) {
      var y = new Array(x.length).fill(null)
      s.values.forEach(function (p) {
        y[at[Date.parse(p[0]) / 1000]] = p[1]
      })
      return y
    })
    return [x].concat(ys)
  }

  function height(el) {
    var phone = el.clientWidth < 560
    return Math.round(Math.max(phone ? 220 : 260, Math.min(phone ? 300 : 440, window.innerHeight * 0.5)))
  }

  function create(el, hooks) {
    var plot = null
    var last = null // { result, win } of the chart on screen, redrawn when the scheme changes

    function build(result, win) {
      if (plot) plot.destroy()
      var t = theme()
      var names = legendLabels(result.series, result.name)
      var axis = { stroke: t.muted, grid: { stroke: t.line, width: 1 }, ticks: { stroke: t.line, width: 1 }, font: '12px system-ui, sans-serif' }
      var opts = {
        width: el.clientWidth,
        height: height(el),
        cursor: { drag: { x: true, y: false, setScale: false }, focus: { prox: 24 }, points: { size: 7 } },
        focus: { alpha: 0.35 },
        legend: { live: true },
        scales: {
          x: {
            time: true,
            range: function () {
              return [win.from / 1000, win.to / 1000]
            },
          },
        },
        series: [{ label: 'Time', value: function (u, v) { return v == null ? '—' : stamp(v) } }].concat(
          names.map(function (label, i) {
            return { label: label, stroke: t.palette[i % t.palette.length], width: 1.75, spanGaps: true, points: { size: 4 }, value: function (u, v) { return plain(v) } }
          }),
        ),
        axes: [
          Object.assign({}, axis),
          Object.assign({}, axis, {
            size: 58,
            values: function (u, vals) {
              return vals.map(compact)
            },
          }),
        ],
        hooks: {
          setSelect: [
            function (u) {
              if (u.select.width < 3) return
              var a = u.posToVal(u.select.left, 'x') * 1000
              var b = u.posToVal(u.select.left + u.select.width, 'x') * 1000
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
              if (hooks.onZoom) hooks.onZoom(Math.round(a), Math.round(b))
            },
          ],
        },
      }
      plot = new uPlot(opts, align(result), el)
      plot.root.querySelector('.u-over').setAttribute('aria-hidden', 'true')
      last = { result: result, win: win }
    }

    // A finger on the chart moves the cursor like a mouse would (uPlot handles mouse events only).
    function touch(e) {
      if (!plot || !e.touches.length) return
      var over = plot.root.querySelector('.u-over')
      var r = over.getBoundingClientRect()
      var left = e.touches[0].clientX - r.left
      if (left < 0 || left > r.width) return
      plot.setCursor({ left: left, top: e.touches[0].clientY - r.top })
    }
    el.addEventListener('touchstart', touch, { passive: true })
    el.addEventListener('touchmove', touch, { passive: true })

    var pending = 0
    window.addEventListener('resize', function () {
      cancelAnimationFrame(pending)
      pending = requestAnimationFrame(function () {
        if (plot) plot.setSize({ width: el.clientWidth, height: height(el) })
      })
    })
    dark.addEventListener('change', function () {
      if (last) build(last.result, last.win)
    })

    return {
      draw: build,
      clear: function () {
        if (plot) plot.destroy()
        plot = null
        last = null
      },
      get plot() {
        return plot
      },
    }
  }

  window.HomeostatChart = { create: create, compact: compact }
})()
