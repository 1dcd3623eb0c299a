// A plain CommonJS app (no TypeScript, no bundler): `require` of every entry point, then a
// tracked subscription end to end over trpc-sse's node handler. The package test copies it into
// a scratch project with "type": "commonjs" and runs it; it prints what it saw as JSON.
'use strict';
const { createTRPCClient } = require('@trpc/client');
const { initTRPC, tracked } = require('@trpc/server');
const { createServer } = require('node:http');

setTimeout(() => {
  process.stderr.write('the app timed out\n');
  process.exit(2);
}, 20_000).unref();

const ENTRIES = ['client', 'client/distinct', 'server', 'express', 'node', 'fetch', 'redis'];

async function main() {
  const loaded = {};
  for (const name of ENTRIES) {
    const mod = require(`trpc-sse/${name}`);
    loaded[name] = { file: require.resolve(`trpc-sse/${name}`), exports: Object.keys(mod).sort() };
  }
  const { createSSEClient, sseLink } = require('trpc-sse/client');
  const { createSSEHandler } = require('trpc-sse/node');
  const cjsServer = require('trpc-sse/server');

  const t = initTRPC.create();
  const router = t.router({
    ticks: t.procedure.subscription(async function* () {
      yield tracked('1', { n: 1 });
      yield tracked('2', { n: 2 });
    }),
  });
  const server = createServer(createSSEHandler({ router, basePath: '/trpc' }));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/trpc`;

  const ticks = {};
  for (const mode of ['multiplexed', 'distinct']) {
    const client = createSSEClient({ url, mode });
    const trpc = createTRPCClient({ links: [sseLink({ client })] });
    ticks[mode] = await new Promise((resolve, reject) => {
      const values = [];
      const subscription = trpc.ticks.subscribe(undefined, {
        onData(value) {
          values.push(value);
          if (values.length === 2) {
            subscription.unsubscribe();
            resolve(values);
          }
        },
        onError: reject,
      });
    });
    client.close();
  }
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));

  // An app (or one of its dependencies) may also import() the package: that loads the ESM
  // build beside this one. Values that travel between our modules must still be recognised.
  const esmServer = await import('trpc-sse/server');
  const crossBuild = {
    separateBuilds: esmServer.isReset !== cjsServer.isReset,
    esmResetSeenByCjs: cjsServer.isReset(esmServer.createReset('trimmed', null)),
    cjsResetSeenByEsm: esmServer.isReset(cjsServer.createReset('epoch', '1')),
  };

  process.stdout.write(JSON.stringify({ loaded, trpcServer: require.resolve('@trpc/server'), ticks, crossBuild }));
}

main().catch((cause) => {
  process.stderr.write(`${cause && cause.stack ? cause.stack : String(cause)}\n`);
  process.exit(1);
});
