/*
 * The run page: a click on a task (in the graph, the timeline or the task list) swaps its detail in
 * place through htmx instead of loading the page again. One listener for all: a run of 1,000 tasks
 * would otherwise carry 3,000 sets of hx-* attributes. Without script, the links load ?task=<id>.
 */
;(function () {
  'use strict'
  document.addEventListener('click', function (e) {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return
    var el = e.target instanceof Element ? e.target.closest('[data-task]') : null
    var page = document.getElementById('run-page')
    if (!el || !page || !window.htmx || !el.closest('#run-graph, #run-timeline, #run-tasks')) return
    e.preventDefault()
    var url = page.getAttribute('data-base') + '/tasks/' + encodeURIComponent(el.getAttribute('data-task'))
    window.htmx.ajax('GET', url, { target: '#task-detail', swap: 'outerHTML' })
  })
})()
