// Segment's and RudderStack's official Node libraries, with their default settings, send a
// customer's story to an Intently server: `node node_clients.mjs http://127.0.0.1:PORT KEY`.
// Prints one JSON line with the errors the libraries reported (none expected).
import { Analytics } from "@segment/analytics-node";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";

const [host, writeKey] = process.argv.slice(2);
const errors = [];

const segment = new Analytics({ writeKey, host });
segment.on("error", (err) => errors.push(`segment: ${err.code || ""} ${err.reason || err}`));
segment.track({ anonymousId: "node-anon", event: "Product Viewed", properties: { price: 12 } });
segment.identify({ userId: "node-user", anonymousId: "node-anon",
                   traits: { email: "Node@Shop.test", name: "Nia" } });
segment.track({ userId: "node-user", event: "Order Completed",
                properties: { revenue: "12.00", order_id: "n-1" } });
segment.group({ userId: "node-user", groupId: "acme", traits: { name: "Acme Inc" } });
segment.alias({ userId: "node-user", previousId: "node-old" });
segment.page({ userId: "node-user", name: "Home" });
await segment.closeAndFlush({ timeout: 15000 });

const rudder = new RudderAnalytics(writeKey, {
  dataPlaneUrl: host,
  errorHandler: (err) => errors.push(`rudder: ${err.message || err}`),
});
rudder.identify({ userId: "rs-node", traits: { email: "rs-node@shop.test", plan: "gold" } });
rudder.track({ userId: "rs-node", event: "Product Added", properties: { price: 3 } });
await new Promise((resolve) => rudder.flush(() => resolve()));

console.log(JSON.stringify({ errors }));
