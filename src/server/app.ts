import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DocbatchError, errorBody, toDocbatchError } from "../core/errors.js";
import {
  mountBatchActionRoutes,
  mountBatchListRoutes,
  mountBatchReadRoutes,
  mountEventRoutes,
} from "./batch-routes.js";
import { renderDashboard } from "./dashboard.js";
import { bearerChallenge, checkRequest, type GuardOptions } from "./guards.js";
import { openApiDocument } from "./openapi.js";
import type { BatchService } from "./service.js";

export interface AppOptions extends GuardOptions {
  /** Largest request body, in bytes (checked again while streaming). */
  maxBodyBytes: number;
  /** Interval of the server-sent progress events, in ms. @default 500 */
  eventIntervalMs?: number;
  /** Open event streams at most, over all batches; more get 503 TOO_MANY_STREAMS. @default 500 */
  maxEventStreams?: number;
}

const PUBLIC = new Set(["/healthz", "/readyz"]);

/**
 * The HTTP API as a function of the library: routes only, no listening socket, so tests drive it
 * in-process with `app.request()`. Every error, whatever its origin, leaves as the contract's
 * body with the status of its code; a 5xx never carries a stack trace.
 */
export function createApp(service: BatchService, options: AppOptions): Hono {
  const app = new Hono();
  answerErrorsWithTheContractBody(app);
  guardEveryRequest(app, options);
  mountServiceRoutes(app, service);
  mountBatchListRoutes(app, service, options);
  mountBatchReadRoutes(app, service);
  mountBatchActionRoutes(app, service);
  mountEventRoutes(app, service, options);
  return app;
}

function answerErrorsWithTheContractBody(app: Hono): void {
  app.onError((err, c) => {
    // A client that went away is not a fault of the server: nothing to log, nobody to answer.
    const error = c.req.raw.signal.aborted
      ? new DocbatchError("REQUEST_ABORTED", "The client closed the connection.")
      : toDocbatchError(err);
    const safe =
      error.status >= 500 && error.code === "INTERNAL"
        ? new DocbatchError("INTERNAL", "An internal error occurred; it has been logged.")
        : error;
    if (error.code === "INTERNAL") console.error(err);
    if (error.code === "UNAUTHORIZED") c.header("www-authenticate", bearerChallenge(c.req.raw));
    return c.json(errorBody(safe), safe.status as ContentfulStatusCode);
  });
  app.notFound((c) =>
    c.json(
      errorBody(
        new DocbatchError("NOT_FOUND_ROUTE", `No route ${c.req.method} ${c.req.path}.`, {
          details: [{ path: c.req.path, problem: "no such route" }],
        }),
      ),
      404,
    ),
  );
}

/** Authentication, the token in the URL kept out of caches, and non-Error throws made errors. */
function guardEveryRequest(app: Hono, options: AppOptions): void {
  app.use("*", async (c, next) => {
    // A URL that carries the token must not be kept by a browser or proxy cache.
    if (new URL(c.req.url).searchParams.has("access_token")) {
      c.header("cache-control", "no-store");
      c.header("referrer-policy", "no-referrer");
    }
    checkRequest(c.req.raw, options, PUBLIC.has(c.req.path));
    try {
      await next();
    } catch (err) {
      // Hono hands only Error instances to onError; anything else thrown becomes one here.
      throw err instanceof Error ? err : toDocbatchError(err);
    }
    // Again: an event stream sets its own Cache-Control.
    if (new URL(c.req.url).searchParams.has("access_token")) c.res.headers.set("cache-control", "no-store");
  });
}

/** Health, readiness, the OpenAPI document, the dashboard and the metrics. */
function mountServiceRoutes(app: Hono, service: BatchService): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    if (!service.ready) throw new DocbatchError("SHUTTING_DOWN", "The server is shutting down.");
    return c.json({ status: "ready" });
  });
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/", (c) => c.html(renderDashboard()));
  app.get("/metrics", async (c) =>
    c.body(await service.metrics(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
}
