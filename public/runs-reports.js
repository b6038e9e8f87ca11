/*
 * The run reports' failure-class trend: the JSON the server put in #class-trend-data (the metrics
 * query result's shape) drawn by the metrics explorer's chart (public/explorer-chart.js, uPlot).
 */
;(function () {
  'use strict'
  function draw() {
    var box = document.getElementById('class-trend')
    var data = document.getElementById('class-trend-data')
    if (!box || !data || !window.HomeostatChart) return
    var result = JSON.parse(data.textContent || '{}')
    window.HomeostatChart.create(box, {}).draw(result, { from: Date.parse(result.from), to: result.to })
    box.dataset.state = 'drawn'
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw)
  else draw()
})()
