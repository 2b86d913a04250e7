// The `ironlb` command: one binary, one subcommand per role. Each command's module is loaded only when
// that command runs, so a daemon does not pay for the others' code at start-up.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exitOnFailure } from './exit.ts';

type Command = { run: (argv: string[]) => Promise<void>; usage: string };

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  controller: {
    summary: 'allocate LoadBalancer IPs from the configured pools',
    load: async () => {
      const m = await import('./controller-command.ts');
      return { run: m.controllerCommand, usage: m.controllerUsage };
    },
  },
  speaker: {
    summary: "announce this node's services by BGP and/or Layer2 (ARP/NDP)",
    load: async () => {
      const m = await import('./speaker-command.ts');
      return { run: m.speakerCommand, usage: m.speakerUsage };
    },
  },
  'migrate-config': {
    summary: 'print the metallb.io CRDs equivalent to a legacy MetalLB ConfigMap',
    load: async () => {
      const m = await import('./migrate-config-command.ts');
      return { run: m.migrateConfigCommand, usage: m.migrateConfigUsage };
    },
  },
  lab: {
    summary: 'a router, nodes and clients in network namespaces, with IronLB running',
    load: async () => {
      const m = await import('./lab-command.ts');
      return { run: m.labCommand, usage: m.labUsage };
    },
  },
};

async function usage(): Promise<string> {
  const names = Object.keys(commands);
  const details = await Promise.all(names.map(async (n) => (await commands[n]!.load()).usage));
  return `ironlb: a load balancer for Kubernetes on bare metal (MetalLB-compatible)

Usage: ironlb COMMAND [flags]

Commands:
${names.map((n) => `  ${n.padEnd(16)} ${commands[n]!.summary}`).join('\n')}

${details.join('\n\n')}`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(await usage());
    return;
  }
  const bundles = process.env.IRONLB_DAEMON_BUNDLES;
  if (bundles && (name === 'controller' || name === 'speaker')) {
    // The image: each daemon runs from its own bundle (scripts/build-dist.ts), which reads argv itself.
    await import(pathToFileURL(join(bundles, `${name}.js`)).href);
    return;
  }
  const command = commands[name];
  if (!command) {
    console.error(`ironlb: unknown command "${name}"\n\n${await usage()}`);
    process.exit(2);
  }
  await (await command.load()).run(rest);
}

exitOnFailure(main(process.argv.slice(2)));
