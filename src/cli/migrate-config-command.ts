// `ironlb migrate-config`: legacy MetalLB ConfigMap (file or cluster) → equivalent metallb.io CRDs on stdout.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { migrateLegacyConfig, toYaml } from '../config/migrate.ts';
import { loadKubeConfig } from '../k8s/kubeconfig.ts';

export const migrateConfigUsage = `ironlb migrate-config [--file PATH | --kubeconfig PATH] [--namespace NS]
  --file PATH        a ConfigMap manifest, or the bare YAML under its "config" key ("-" for stdin)
  --kubeconfig PATH  read ConfigMap NS/config from the cluster instead
  --namespace NS     namespace of the ConfigMap and of the printed objects (default metallb-system)`;

export async function migrateConfigCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', default: 'metallb-system' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(migrateConfigUsage);
    return;
  }
  const namespace = values.namespace!;
  let input: unknown;
  if (values.file !== undefined) {
    const text = readFileSync(values.file === '-' ? 0 : values.file, 'utf8');
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new Error(`${values.file}: not valid YAML: ${(err as Error).message}`);
    }
    // A whole ConfigMap manifest, or just the text that goes under its "config" key.
    const isConfigMap = typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'ConfigMap';
    input = isConfigMap ? doc : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config', namespace }, data: { config: text } };
  } else {
    const api = loadKubeConfig(values.kubeconfig).makeApiClient(CoreV1Api);
    input = await api.readNamespacedConfigMap({ name: 'config', namespace });
  }
  const result = migrateLegacyConfig(input, namespace);
  if (result.errors.length > 0) {
    for (const e of result.errors) console.error(`error: ${typeof e === 'string' ? e : formatError(e)}`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(toYaml(result.objects));
}

function formatError(e: unknown): string {
  const c = e as { kind?: string; namespace?: string; name?: string; field?: string; message?: string };
  return c.message !== undefined ? `${c.kind} ${c.namespace}/${c.name}: ${c.field ? c.field + ' ' : ''}${c.message}` : String(e);
}
