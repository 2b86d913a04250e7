// The `ironlb` command: one binary, one subcommand per role.
import { controllerCommand, controllerUsage } from './controller-command.ts';
import { migrateConfigCommand, migrateConfigUsage } from './migrate-config-command.ts';
import { speakerCommand, speakerUsage } from './speaker-command.ts';
import { labCommand, labUsage } from './lab-command.ts';

const usage = `ironlb: a load balancer for Kubernetes on bare metal (MetalLB-compatible)

Usage: ironlb COMMAND [flags]

Commands:
  controller       allocate LoadBalancer IPs from the configured pools
  speaker          announce this node's services by BGP and/or Layer2 (ARP/NDP)
  migrate-config   print the metallb.io CRDs equivalent to a legacy MetalLB ConfigMap
  lab              a router, nodes and clients in network namespaces, with IronLB running: see below

${controllerUsage}

${speakerUsage}

${migrateConfigUsage}

${labUsage}`;

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  controller: controllerCommand,
  speaker: speakerCommand,
  'migrate-config': migrateConfigCommand,
  lab: labCommand,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return;
  }
  const run = commands[command];
  if (!run) {
    console.error(`ironlb: unknown command "${command}"\n\n${usage}`);
    process.exit(2);
  }
  await run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`ironlb: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
