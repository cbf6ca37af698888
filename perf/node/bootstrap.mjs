// A minimal Lambda Runtime API client for handler.mjs, doing per invocation
// what Lambda's Node.js runtime does: GET /invocation/next (keep-alive), parse
// the event, await the handler, POST the JSON result to /invocation/<id>/response.
import http from "node:http";
import { handler } from "./handler.mjs";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = "/2018-06-01/runtime/invocation/";

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, agent, headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {} }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

for (;;) {
  const next = await request("GET", base + "next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  let result;
  try {
    result = JSON.stringify(await handler(JSON.parse(next.body)));
  } catch (error) {
    await request("POST", `${base}${id}/error`, JSON.stringify({ errorType: "Error", errorMessage: String(error) }));
    continue;
  }
  await request("POST", `${base}${id}/response`, result);
}
