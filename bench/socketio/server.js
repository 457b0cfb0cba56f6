// The Node socket.io peer of bench/fanout.py: `node bench/socketio/server.js PORT` (REDIS_URL in the env).
// Each message on the Redis channel `bench` is parsed once and sent to every socket with io.emit, which
// encodes the packet once and writes it per socket (WebSocket transport only, no polling, no compression).
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");

async function main() {
  const port = Number(process.argv[2]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    transports: ["websocket"],
    perMessageDeflate: false,
    serveClient: false,
    maxHttpBufferSize: 65536,
  });
  const redis = createClient({ url: process.env.REDIS_URL });
  await redis.connect();
  await redis.subscribe("bench", (message) => io.emit("e", JSON.parse(message)));
  httpServer.listen(port, "127.0.0.1", 4096);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
