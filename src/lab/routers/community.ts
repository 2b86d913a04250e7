// BGP communities in the lab drivers: configs accept "a:b" or a well-known name, every output is
// normalized to numeric "a:b" (FRR prints names, BIRD "(a,b)", GoBGP a 32-bit integer) and "a:b:c".

/**
 * RFC 1997 / IANA well-known communities. Keys are spelling-free (lower case, no "-" or "_"): FRR's text
 * output says "no-advertise" but its JSON says "noAdvertise", GoBGP says "no-advertise".
 */
const WELL_KNOWN: Readonly<Record<string, number>> = {
  gracefulshutdown: 0xffff0000,
  acceptown: 0xffff0001,
  routefiltertranslatedv4: 0xffff0002,
  routefilterv4: 0xffff0003,
  routefiltertranslatedv6: 0xffff0004,
  routefilterv6: 0xffff0005,
  llgrstale: 0xffff0006,
  nollgr: 0xffff0007,
  acceptownnexthop: 0xffff0008,
  blackhole: 0xffff029a,
  noexport: 0xffffff01,
  noadvertise: 0xffffff02,
  noexportsubconfed: 0xffffff03,
  localas: 0xffffff03,
  nopeer: 0xffffff04,
};

/** The 32-bit value of "a:b" or a well-known name; throws on anything else. */
export function communityValue(text: string): number {
  const named = WELL_KNOWN[text.toLowerCase().replace(/[-_]/g, '')];
  if (named !== undefined) return named;
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 0xffff || Number(m[2]) > 0xffff) throw new Error(`"${text}" is not a community (a:b, each 0..65535, or a well-known name)`);
  return Number(m[1]) * 0x10000 + Number(m[2]);
}

export function formatCommunityValue(value: number): string {
  return `${Math.floor(value / 0x10000)}:${value % 0x10000}`;
}

/** "no-export" → "65535:65281"; "64512:100" stays; unknown text is returned unchanged. */
export function normalizeCommunity(text: string): string {
  try {
    return formatCommunityValue(communityValue(text));
  } catch {
    return text;
  }
}

/** [global, local1, local2] of "a:b:c"; throws on anything else. */
export function largeCommunityParts(text: string): [number, number, number] {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text.replace(/^large:/i, ''));
  const parts = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
  if (!m || parts.some((p) => p > 0xffffffff)) throw new Error(`"${text}" is not a large community (a:b:c, each 0..4294967295)`);
  return parts as [number, number, number];
}

export function normalizeLargeCommunity(text: string): string {
  return largeCommunityParts(text).join(':');
}
