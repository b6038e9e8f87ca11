// The system module's public face: other modules, the composition root and jobs import only this.
export { systemPages } from './pages.tsx'
export { systemRoutes, VERSION } from './routes.ts'
