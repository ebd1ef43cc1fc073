// Force every server that calls listen(port) without a host to bind 127.0.0.1 only.
import net from 'node:net'
const orig = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const host = process.env.BIND_HOST ?? '127.0.0.1'
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, host)
  } else if (args[0] && typeof args[0] === 'object' && !args[0].path && !args[0].host && !(args[0] instanceof net.Server) && args[0].port !== undefined) {
    args[0] = { ...args[0], host }
  }
  return orig.apply(this, args)
}
