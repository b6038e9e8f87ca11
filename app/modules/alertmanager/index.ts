// The Alertmanager API v2 module's public face: the composition root mounts its routes.
export { alertmanagerApiRoutes } from './routes.ts'
