// The front page module's public face: the composition root mounts it with the tiles every module exports.
export { frontPages } from './pages.tsx'
