// A client written elsewhere: @jupyterlab/services in Node (what JupyterLab itself uses), against
// a real server. Usage: node services_client.js <baseUrl> <token>; prints one JSON line.
const path = require('path');
const modules = path.join(__dirname, '..', '..', 'labextension', 'node_modules');
const { KernelManager, ServerConnection } = require(path.join(modules, '@jupyterlab/services'));
const WebSocket = require(path.join(modules, 'ws'));

async function main() {
  const [baseUrl, token] = process.argv.slice(2);
  const serverSettings = ServerConnection.makeSettings({
    baseUrl,
    wsUrl: baseUrl.replace(/^http/, 'ws'),
    token,
    appendToken: true,
    WebSocket,
    fetch,
    Request,
    Headers
  });
  const manager = new KernelManager({ serverSettings });
  await manager.ready;
  const kernel = await manager.startNew({ name: 'python3' });
  const info = { content: await kernel.info }; // resolves once connected and kernel_info_reply came
  const streams = [];
  const future = kernel.requestExecute({ code: "print('from node'); 21*2" });
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') streams.push(msg.content.text);
    if (msg.header.msg_type === 'execute_result') streams.push(msg.content.data['text/plain']);
  };
  const reply = await future.done;
  const result = {
    implementation: info.content.implementation,
    status: reply.content.status,
    replyParent: reply.parent_header.msg_id === future.msg.header.msg_id,
    outputs: streams
  };
  await kernel.shutdown();
  manager.dispose();
  console.log(JSON.stringify(result));
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
