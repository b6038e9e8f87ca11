import net from 'node:net'
import { vi } from 'vitest'

/**
 * Counts the sockets connected during `work`. Only the first `pass` connections go through (to the
 * local servers); any later one is failed before it leaves the process, so even a broken policy
 * sends no traffic beyond loopback while a test runs.
 */
export async function connectsDuring(work: () => Promise<unknown>, pass = 0): Promise<number> {
  const original = net.Socket.prototype.connect
  let seen = 0
  const spy = vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (
    this: net.Socket,
    ...args: unknown[]
  ) {
    if (++seen <= pass) return (original as (...a: unknown[]) => net.Socket).apply(this, args)
    process.nextTick(() => this.destroy(new Error('test: connection blocked')))
    return this
  })
  try {
    await work()
    return spy.mock.calls.length
  } finally {
    spy.mockRestore()
  }
}
