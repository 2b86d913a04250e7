// What the lab needs from the machine; `ironlb lab` reports it, tests skip on it.
import { haveExecutable } from './command.ts';

/** Why the lab cannot run here (with these extra tools), or undefined if it can. */
export function labUnavailable(tools: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces)';
  for (const tool of ['ip', 'sysctl', ...tools]) {
    if (!haveExecutable(tool)) return `${tool} is not installed`;
  }
  return undefined;
}
