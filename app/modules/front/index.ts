// The front page module's public face: the composition root mounts it with the tiles every module
// exports, and the front-summaries job refreshes the heavy tiles' stored figures through it.
export { frontPages } from './pages.tsx'
export { rangeOf } from './range.ts'
export { readSummaries, refreshSummaries, SUMMARY_EVERY } from './summaries.ts'
