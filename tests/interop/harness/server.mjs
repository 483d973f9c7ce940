// Real better-auth server for interop tests. Does NOT run migrations
// (run migrate.mjs first). Listens on 127.0.0.1:$PORT, routes under
// /api/auth/*, and prints exactly one line "READY <port>" to stdout once
// it is listening. Exits cleanly on SIGTERM / SIGINT.
//
// Besides better-auth's routes it serves the OAuth authorization server metadata at the
// origin's well-known path for the issuer <origin>/api/auth (RFC 8414), as a front end must.
import { createServer } from "node:http";
import { oauthProviderAuthServerMetadata } from "@better-auth/oauth-provider";
import { toNodeHandler } from "better-auth/node";
import { createAuth } from "./auth.mjs";

const { auth, pool, config } = createAuth({ requirePort: true });
const authHandler = toNodeHandler(auth);
const AUTH_SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server/api/auth";
const authServerMetadata = toNodeHandler(oauthProviderAuthServerMetadata(auth));

function handlerFor(url) {
  const path = url?.split("?")[0];
  if (path === AUTH_SERVER_METADATA_PATH) return authServerMetadata;
  if (path === "/api/auth" || path?.startsWith("/api/auth/")) return authHandler;
  return undefined;
}

const server = createServer((req, res) => {
  const handler = handlerFor(req.url);
  if (handler) {
    handler(req, res).catch((err) => {
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
