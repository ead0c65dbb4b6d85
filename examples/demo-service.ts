// The demo's example service to health-check: a tiny HTTP server whose health you can flip with POST /toggle.
// Run: DEMO_SERVICE_PORT=18080 bun examples/demo-service.ts

const port = Number(process.env.DEMO_SERVICE_PORT ?? 18080);
let healthy = true;
let requests = 0;
let checkpoints = 0;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(req) {
    requests++;
    const { pathname } = new URL(req.url);
    if (pathname === "/health") return healthy ? new Response("ok\n") : new Response("unhealthy (flipped by POST /toggle)\n", { status: 503 });
    if (pathname === "/toggle" && req.method === "POST") {
      healthy = !healthy;
      console.log(`demo-service: now ${healthy ? "healthy" : "unhealthy"}`);
      return Response.json({ healthy });
    }
    if (pathname === "/stats") return Response.json({ requests, checkpoints, healthy });
    if (pathname === "/checkpoint" && req.method === "POST") {
      checkpoints++;
      return new Response("flushed\n");
    }
    if (pathname === "/restore" && req.method === "POST") return new Response("restored\n");
    return new Response("demo service: GET /health, GET /stats, POST /toggle\n");
  },
});
console.log(`demo-service listening on http://127.0.0.1:${server.port}`);

const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
