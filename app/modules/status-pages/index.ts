// The status pages module's public face: the composition root and other modules import only this.
export { statusPagesPages } from './pages.tsx'
export { statusPublicRoutes } from './public-routes.ts'
export { statusPagesRoutes } from './routes.ts'
export { createStatusPages, type StatusPages } from './service.ts'
