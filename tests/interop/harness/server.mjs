// Real better-auth server for interop tests. Does NOT run migrations
// (run migrate.mjs first). Listens on 127.0.0.1:$PORT, routes under
// /api/auth/*, and prints exactly one line "READY <port>" to stdout once
// it is listening. Exits cleanly on SIGTERM / SIGINT.
import { createServer } from "node:http";
import { toNodeHandler } from "better-auth/node";
import { createAuth } from "./auth.mjs";

const { auth, pool, config } = createAuth({ requirePort: true });
const authHandler = toNodeHandler(auth);

const server = createServer((req, res) => {
  if (req.url === "/api/auth" || req.url?.startsWith("/api/auth/")) {
    authHandler(req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end("internal error");
      } else {
        res.destroy(err);
      }
    });
    return;
  }
  res.statusCode = 404;
  res.setHeader("content-type", "text/plain");
  res.end("not found");
});

server.on("error", (err) => {
  console.error(err);
  process.exit(1);
});

server.listen(config.port, "127.0.0.1", () => {
  const { port } = server.address();
  process.stdout.write(`READY ${port}\n`);
});

let shuttingDown = false;
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.error(`received ${signal}, shutting down`);
  const force = setTimeout(() => process.exit(0), 5000);
  force.unref();
  server.close(() => {
    pool.end().finally(() => process.exit(0));
  });
  server.closeAllConnections?.();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
