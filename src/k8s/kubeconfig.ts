// Loads credentials: an explicit kubeconfig file, else $KUBECONFIG / ~/.kube/config, else in-cluster.
import type { Agent } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * client-node builds a new HTTPS agent for every request, so every API call pays a fresh TCP + TLS
 * handshake. The daemons make thousands of calls: reuse one keep-alive agent per cluster and user.
 */
function reuseAgents(kc: KubeConfig): KubeConfig {
  const proto = Object.getPrototypeOf(kc) as { createAgent: (cluster: { server?: string; proxyUrl?: string } | null, options: object) => Agent };
  const original = proto.createAgent;
  const agents = new Map<string, Agent>();
  Object.defineProperty(kc, 'createAgent', {
    value(cluster: { server?: string; proxyUrl?: string } | null, options: object): Agent {
      if (!cluster || cluster.proxyUrl) return original.call(kc, cluster, options);
      const key = `${cluster.server}|${kc.getCurrentUser()?.name ?? ''}`;
      let agent = agents.get(key);
      if (!agent) {
        agent = original.call(kc, cluster, { ...options, keepAlive: true });
        agents.set(key, agent);
      }
      return agent;
    },
  });
  return kc;
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return reuseAgents(kc);
}
