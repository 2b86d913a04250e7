// Loads credentials: an explicit kubeconfig file, else $KUBECONFIG / ~/.kube/config, else in-cluster.
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
